import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// Reads the rack12 fixtures through real libvirt (the test driver) and checks what comes out.
@Suite struct InventoryReaderTests {
    func read(_ name: String) async throws -> HostInventory {
        try await InventoryReader.readHost(name: name, uri: Rack12.uri(name)).get()
    }

    @Test func sourceIntelHost() async throws {
        let h = try await read("kvm-12a")
        #expect(h.name == "kvm-12a")
        #expect(h.uri == Rack12.uri("kvm-12a"))
        #expect(h.memoryKiB == 128 * gibInKiB)
        #expect(h.freeMemoryKiB == 0) // the test driver has no NUMA cells
        #expect(h.cpus == 32)
        // Model from virNodeGetInfo; vendor, features, arch and UUID are the test driver's fixed values.
        #expect(h.cpu == HostCPU(vendor: "", model: "Icelake-Server", features: ["nonpae", "pae"]))
        #expect(h.arch == "i686")
        #expect(h.hostUUID == nil)
        #expect(h.hostname?.isEmpty == false)
        #expect(h.bridges == ["br-mgmt", "br-storage", "virbr0"])
        #expect(h.networks == [NetworkInfo(name: "default", bridge: "virbr0", active: true)])
        #expect(
            h.storagePools == [
                StoragePoolInfo(name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false),
                StoragePoolInfo(
                    name: "vmstore", type: "netfs", targetPath: "/var/lib/libvirt/images/vmstore", shared: true),
            ])
        #expect(h.guests.map(\.name) == ["build-01", "db-01", "gpu-01", "legacy-01", "scratch-01", "web-01", "web-02"])

        let web1 = try #require(h.guest("web-01"))
        #expect(web1.uuid == "a12a0000-0000-4000-8000-000000000001")
        #expect(web1.state == .running && web1.persistent)
        #expect(web1.memoryKiB == 4 * gibInKiB && web1.currentMemoryKiB == 4 * gibInKiB && web1.vcpus == 2)
        #expect(web1.cpu == GuestCPU(mode: .hostModel))
        #expect(web1.nics == [GuestNIC(kind: .bridge, source: "br-mgmt", mac: "52:54:00:12:0a:01")])
        #expect(
            web1.disks == [
                GuestDisk(
                    kind: .file, target: "vda", source: "/var/lib/libvirt/images/vmstore/web-01.qcow2", shared: true)
            ])
        #expect(web1.hostDevices.isEmpty)

        let web2 = try #require(h.guest("web-02"))
        #expect(web2.memoryKiB == 4 * gibInKiB) // written as 4096 MiB
        #expect(web2.cpu == GuestCPU(mode: .custom, model: "Cascadelake-Server", features: ["avx512f", "pku"]))
        #expect(web2.nics == [GuestNIC(kind: .network, source: "default", mac: "52:54:00:12:0a:02")])

        let db1 = try #require(h.guest("db-01"))
        #expect(db1.cpu == GuestCPU(mode: .hostPassthrough, model: "Icelake-Server"))
        #expect(db1.vcpus == 8 && db1.memoryKiB == 16 * gibInKiB)
        #expect(db1.nics.map(\.source) == ["br-mgmt", "br-storage"])
        #expect(
            db1.disks == [
                GuestDisk(
                    kind: .file, target: "vda", source: "/var/lib/libvirt/images/vmstore/db-01.qcow2", shared: true),
                GuestDisk(kind: .network, target: "vdb", source: "rbd:vms/db-01-data", shared: true),
            ])

        let build = try #require(h.guest("build-01"))
        #expect(build.memoryKiB == 8 * gibInKiB && build.currentMemoryKiB == 6 * gibInKiB)
        #expect(
            build.disks == [
                GuestDisk(kind: .file, target: "vda", source: "/var/lib/libvirt/images/build-01.qcow2", shared: false)
            ])

        let gpu = try #require(h.guest("gpu-01"))
        #expect(gpu.hostDevices == ["pci:0000:3b:00.0"])

        let scratch = try #require(h.guest("scratch-01"))
        #expect(scratch.state == .running && !scratch.persistent)

        let legacy = try #require(h.guest("legacy-01"))
        #expect(legacy.state == .shutoff && legacy.persistent)
        #expect(legacy.cpu == GuestCPU(mode: .custom, model: "Westmere"))
        #expect(
            legacy.disks.last
                == GuestDisk(kind: .file, device: "cdrom", target: "sda", source: "", shared: true, readonly: true))
    }

    @Test func sourceAMDHost() async throws {
        let h = try await read("kvm-12b")
        #expect(h.cpu.model == "EPYC-Milan")
        #expect(h.storagePools.map(\.name) == ["ceph", "vmstore"])
        #expect(h.storagePools.map(\.shared) == [true, true])
        #expect(h.storagePools.first?.targetPath == nil) // rbd pools have no local path

        let db2 = try #require(h.guest("db-02"))
        #expect(db2.cpu == GuestCPU(mode: .hostPassthrough, model: "EPYC-Milan"))
        #expect(db2.disks == [GuestDisk(kind: .volume, target: "vda", source: "ceph/db-02-root", shared: true)])

        #expect(h.guest("app-01")?.cpu == GuestCPU(mode: .custom, model: "EPYC-Rome", features: ["x2apic"]))
        #expect(h.guest("app-01")?.nics.map(\.source) == ["br-storage"])
        #expect(h.guest("app-02")?.state == .paused)
        #expect(h.guest("bigmem-01")?.memoryKiB == 64 * gibInKiB)
        #expect(h.guest("bigmem-01")?.vcpus == 16)
        #expect(h.guest("license-01")?.hostDevices == ["usb:0529:0001"])

        let win = try #require(h.guest("win-01"))
        #expect(win.state == .shutoff)
        #expect(win.disks.map(\.shared) == [true, true]) // the ISO sits on the NFS pool
        #expect(win.disks.last?.readonly == true)
    }

    @Test func targets() async throws {
        let a = try await read("kvm-13a")
        let b = try await read("kvm-13b")
        let c = try await read("kvm-13c")
        #expect(a.memoryKiB == 64 * gibInKiB && a.cpus == 24)
        #expect(a.guests.map(\.name) == ["mon-01"])

        #expect(b.memoryKiB == 48 * gibInKiB && b.cpus == 16 && b.cpu.model == "Cascadelake-Server")
        #expect(b.bridges == ["br-mgmt", "virbr0"]) // no br-storage; eno2 is a plain ethernet
        #expect(b.guests.isEmpty)

        #expect(c.networks == [NetworkInfo(name: "isolated", bridge: "virbr1", active: true)])
        #expect(c.bridges == ["br-mgmt", "br-storage", "virbr1"])
        #expect(c.guests.map { "\($0.name):\($0.state.rawValue)" } == ["ci-runner-01:running", "tmpl-01:shutoff"])
    }

    @Test func fiveHostsConcurrently() async throws {
        let results = await InventoryReader.read(hosts: Rack12.hosts, concurrency: 5)
        #expect(results.keys.sorted() == Rack12.hostNames)
        let guests = try results.values.map { try $0.get().guests.count }.reduce(0, +)
        #expect(guests == 16)

        // A tighter bound gives the same answer.
        let serial = await InventoryReader.read(hosts: Rack12.hosts, concurrency: 1)
        for name in Rack12.hostNames {
            #expect(try serial[name]?.get() == results[name]?.get())
        }
    }

    @Test func manyReadersOfOneHostDoNotInterfere() async throws {
        let hosts = (0..<24).map { (name: "copy-\($0)", uri: Rack12.uri("kvm-12a")) }
        let results = await InventoryReader.read(hosts: hosts, concurrency: 8)
        #expect(results.count == 24)
        let firstGuests = try results["copy-0"]?.get().guests
        for r in results.values { #expect(try r.get().guests == firstGuests) }
    }

    @Test func unreachableHostsAreErrorsNamingTheURI() async throws {
        let missingFile = "test:///nonexistent/file.xml"
        let missingSocket = "qemu+unix:///session?socket=/nonexistent/sock"
        let results = await InventoryReader.read(hosts: [
            ("gone-1", missingFile), ("gone-2", missingSocket), ("kvm-13a", Rack12.uri("kvm-13a")),
        ])
        #expect((try? results["kvm-13a"]?.get()) != nil)
        for (name, uri) in [("gone-1", missingFile), ("gone-2", missingSocket)] {
            guard case .failure(let error)? = results[name] else {
                Issue.record("\(name) should have failed")
                continue
            }
            #expect(error.uri == uri)
            #expect(error.kind == .unreachable)
            #expect(error.origin?.call == "virConnectOpenAuth")
            #expect(error.description.contains(uri))
            #expect(!error.message.isEmpty)
            #expect((error.origin?.code ?? 0) != 0)
        }
        if case .failure(let e)? = results["gone-2"] { #expect(e.message.contains("/nonexistent/sock")) }
    }

    @Test func inventoryListsUnreachableHosts() async {
        let inv = await InventoryReader.inventory(
            hosts: Rack12.hosts + [("kvm-99z", "test:///nonexistent/kvm-99z.xml")])
        #expect(inv.hosts.map(\.name) == Rack12.hostNames)
        #expect(inv.unreachable.map(\.name) == ["kvm-99z"])
        #expect(inv.unreachable.first?.uri == "test:///nonexistent/kvm-99z.xml")
        #expect(inv.unreachable.first?.error.contains("virConnectOpenAuth: ") == true)
    }

    @Test func connectionOpensAndListsDirectly() async throws {
        let conn = try await LibvirtConnection.open(uri: Rack12.uri("kvm-12b"))
        let names = await LibvirtRuntime.blocking("test") { () -> [String] in
            ((try? conn.domains()) ?? []).map(\.name).sorted()
        }
        #expect(names == ["app-01", "app-02", "bigmem-01", "db-02", "license-01", "win-01"])
    }
}
