import EvacBench
import Foundation
import Testing

@testable import EvacCore

/// The snapshot reader must give exactly what JSONDecoder gives for the schema, and refuse
/// what it refuses, with the place of the problem.
struct SnapshotDecoderTests {
    func decode(_ text: String) -> Result<Inventory, SnapshotDecoder.Failure> {
        let data = Data(text.utf8)
        return data.withUnsafeBytes { raw in
            Result { () throws(SnapshotDecoder.Failure) in try SnapshotDecoder.decode(raw) }
        }
    }

    func message(_ text: String) -> String {
        guard case .failure(let e) = decode(text) else { return "accepted" }
        return e.message
    }

    @Test func scaleFleetDecodesAsJSONDecoderDoes() throws {
        let (_, inventory) = FleetGenerator.scale(guests: 2000, hosts: 200, sources: 40, seed: 7)
        let data = inventory.encodedSnapshot()
        let mine = try decode(String(decoding: data, as: UTF8.self)).get()
        #expect(mine == (try JSONDecoder().decode(Inventory.self, from: data)))
        #expect(mine == inventory)
        // Compact, unsorted keys, as another writer may produce them.
        let compact = try JSONEncoder().encode(inventory)
        #expect(try decode(String(decoding: compact, as: UTF8.self)).get() == inventory)
    }

    @Test func optionalFieldsNullsUnknownKeysAndEscapes() throws {
        let text = #"""
            {"formatVersion":1,"unreachable":[{"name":"u","uri":"qemu:///system","error":"e\n\"x\""}],"extra":{"a":[1,2.5e3,null,true,{"b":[]}]},
             "hosts":[{"name":"h\u00e9\ud83d\ude00","uri":"qemu:///system","hostUUID":null,"arch":"x86_64","memoryKiB":1024,
             "freeMemoryKiB":0,"cpus":4,"cpu":{"vendor":"","model":"m","features":["b","a"]},"bridges":[],"networks":[{"name":"n","active":true}],
             "storagePools":[],"guests":[{"uuid":"u1","name":"g","state":"paused","persistent":false,"memoryKiB":1.0,"currentMemoryKiB":1e0,
             "vcpus":1,"cpu":{"mode":"custom","features":[]},"nics":[{"kind":"bridge","source":"br0"}],"disks":[],"hostDevices":[],"vcpus":2}]}]}
            """#
        let inv = try decode(text).get()
        #expect(inv == (try JSONDecoder().decode(Inventory.self, from: Data(text.utf8))))
        #expect(inv.hosts[0].name == "hé😀")
        #expect(inv.hosts[0].hostUUID == nil && inv.hosts[0].hostname == nil)
        #expect(inv.hosts[0].cpu.features == ["b", "a"]) // as written: decoding does not sort
        #expect(inv.hosts[0].guests[0].vcpus == 1) // the first of a repeated key, as JSONDecoder
        #expect(inv.unreachable[0].error == "e\n\"x\"")
    }

    /// Every optional field the inventory has, present (and null): the reader skips unknown keys,
    /// so a field it did not know decoded as absent without a word (the preflight filters'
    /// versions, machine types, network filters and filesystems were lost from snapshots).
    @Test func everyOptionalFieldIsRead() throws {
        var host = HostInventory(
            name: "h", uri: "qemu:///system", memoryKiB: 1024, cpus: 2,
            cpu: HostCPU(vendor: "Intel", model: "m", features: []))
        host.libvirtVersion = "9.0.0"
        host.hypervisorVersion = "7.2.0"
        host.nwfilters = ["clean-traffic"]
        host.machineTypes = ["pc-q35-7.2"]
        host.cpuModels = ["Skylake-Client", "qemu64"]
        host.hostModelCPU = true
        host.virtTypes = [
            VirtTypeOffer(type: "kvm", machineTypes: ["pc-q35-7.2"], cpuModels: ["qemu64"], hostModelCPU: true),
            VirtTypeOffer(type: "qemu"),
        ]
        var guest = Guest(uuid: "u1", name: "g", state: .running, memoryKiB: 1024, vcpus: 1)
        guest.virtType = "kvm"
        guest.filesystems = ["/srv → share (virtiofs)"]
        guest.machine = "pc-q35-7.2"
        guest.cpu = GuestCPU(mode: .custom, model: "qemu64", check: "none")
        guest.dirtyRateBytesPerSec = 12_345_678
        // Storage copy and snapshots (and the NIC's filter, which the reader skipped before).
        host.storagePools = [
            StoragePoolInfo(
                name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false, active: true,
                availableBytes: 9_876_543_210)
        ]
        guest.nics = [GuestNIC(kind: .bridge, source: "br0", mac: "52:54:00:00:00:01", filter: "clean-traffic")]
        guest.disks = [
            GuestDisk(
                kind: .file, target: "vda", source: "/var/lib/libvirt/images/g.qcow2", shared: false,
                format: "qcow2", capacityBytes: 10_737_418_240, allocationBytes: 1_234_567,
                backingChain: ["/var/lib/libvirt/images/base.qcow2"])
        ]
        guest.snapshots = 2
        host.guests = [guest]
        let inventory = Inventory(hosts: [host])
        let data = inventory.encodedSnapshot()
        let mine = try decode(String(decoding: data, as: UTF8.self)).get()
        #expect(mine == inventory)
        #expect(mine == (try JSONDecoder().decode(Inventory.self, from: data)))
        let nulls = String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: #""nwfilters" : ["#, with: #""nwfilters" : null, "x" : ["#)
        #expect(try decode(nulls).get().hosts[0].nwfilters == nil)
    }

    /// A snapshot written before domain types were read decodes with them unknown (nil), which
    /// the virt-type filter never refuses.
    @Test func aSnapshotWithoutVirtTypesDecodesWithThemUnknown() throws {
        var host = HostInventory(
            name: "h", uri: "qemu:///system", memoryKiB: 1024, cpus: 2,
            cpu: HostCPU(vendor: "Intel", model: "m", features: []))
        host.guests = [Guest(uuid: "u1", name: "g", state: .running, memoryKiB: 1024, vcpus: 1)]
        let text = String(decoding: Inventory(hosts: [host]).encodedSnapshot(), as: UTF8.self)
        #expect(!text.contains("virtType"), "absent fields stay absent: older snapshots keep their bytes")
        let read = try decode(text).get()
        #expect(read.hosts[0].virtTypes == nil)
        #expect(read.hosts[0].guests[0].virtType == nil)
    }

    @Test func problemsAreRefusedWithTheirPlace() {
        #expect(message("").hasPrefix("expected an object"))
        #expect(message(#"{"formatVersion":1,"hosts":[]}"#).hasPrefix("missing 'unreachable'"))
        #expect(message(#"{"formatVersion":1,"hosts":[],"unreachable":[]} x"#).hasPrefix("unexpected text"))
        #expect(
            message(#"{"formatVersion":1.5,"hosts":[],"unreachable":[]}"#).hasPrefix(
                "expected a whole number at /formatVersion"))
        #expect(
            message(#"{"formatVersion":99999999999999999999,"hosts":[],"unreachable":[]}"#).hasPrefix(
                "number out of range"))
        #expect(
            message(#"{"formatVersion":-9223372036854775809,"hosts":[],"unreachable":[]}"#).hasPrefix(
                "number out of range"))
        #expect(message(#"{"formatVersion":01,"hosts":[],"unreachable":[]}"#).contains("expected ','"))
        #expect(
            message(#"{"formatVersion":1,"hosts":[{"name":"a\u0001"}],"unreachable":[]}"#).contains(
                "missing 'uri' at /hosts/0"))
        #expect(
            message("{\"formatVersion\":1,\"hosts\":[],\"unreachable\":[{\"name\":\"a\u{01}\"}]}").hasPrefix(
                "a control character"))
        #expect(
            message(#"{"formatVersion":1,"hosts":[],"unreachable":[{"name":"\ud800"}]}"#).hasPrefix("a lone surrogate"))
        #expect(
            message(#"{"formatVersion":1,"hosts":[],"unreachable":[{"name":"a"#).hasPrefix("a string is not closed"))
        let deep = "{\"x\":" + String(repeating: "[", count: 100_000)
        #expect(message(deep).hasPrefix("nesting deeper than"))
        let badUTF8 = Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])
        let r = badUTF8.withUnsafeBytes { raw in
            Result { () throws(SnapshotDecoder.Failure) in try SnapshotDecoder.decode(raw) }
        }
        guard case .failure(let e) = r else {
            Issue.record("accepted")
            return
        }
        #expect(e.message.contains("UTF-8"))
        let lines = message("{\n  \"formatVersion\": 1,\n  \"hosts\": [\n    {\"name\": 5}]}")
        #expect(lines == "expected a string at /hosts/0/name (line 4, column 14)")
    }

    @Test func unknownEnumValuesAreRefused() {
        let g =
            #"{"uuid":"u","name":"g","state":"flying","persistent":true,"memoryKiB":1,"currentMemoryKiB":1,"vcpus":1,"cpu":{"mode":"none","features":[]},"nics":[],"disks":[],"hostDevices":[]}"#
        let text =
            #"{"formatVersion":1,"unreachable":[],"hosts":[{"name":"h","uri":"u","arch":"x","memoryKiB":1,"freeMemoryKiB":0,"cpus":1,"cpu":{"vendor":"","model":"","features":[]},"bridges":[],"networks":[],"storagePools":[],"guests":["#
            + g + "]}]}"
        #expect(message(text).hasPrefix("unknown value 'flying' at /hosts/0/guests/0/state"))
    }
}
