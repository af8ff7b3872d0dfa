import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// Domain types as libvirt reports them (the test driver): each guest's `<domain type=…>` and
/// each host's offered types for its arch (`<guest><arch><domain type=…>` in its capabilities),
/// and the virt-type filter on what was read. The test driver offers only `test` (on i686) and
/// has no domain capabilities, so the per-type CPU offer is unknown there.
@Suite struct VirtTypeInventoryTests {
    static let node = """
        <node>
          <domain type='kvm'><name>k1</name><uuid>5f4a0000-0000-4000-8000-000000000001</uuid>
            <memory>65536</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>
          <domain type='test'><name>t1</name><uuid>5f4a0000-0000-4000-8000-000000000002</uuid>
            <memory>65536</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>
        </node>
        """

    @Test func guestsAndHostsCarryTheirDomainTypes() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-virt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("node.xml")
        try Self.node.write(to: file, atomically: true, encoding: .utf8)
        let h = try await InventoryReader.readHost(name: "t", uri: "test://\(file.path)").get()
        #expect(h.guests.map { "\($0.name):\($0.virtType ?? "?")" } == ["k1:kvm", "t1:test"])
        #expect(h.arch == "i686")
        #expect(h.virtTypes == [VirtTypeOffer(type: "test")], "capabilities offer only 'test'; no domain capabilities")

        // The filter on what libvirt said: the kvm guest is refused this host, the test one is not.
        let k1 = try #require(h.guests.first { $0.name == "k1" })
        let r = LiveFilters.rejection(
            guest: k1, sourcePools: [], sourceHypervisorVersion: nil, target: h, bridges: .match, bridgeMap: [:])
        #expect(r?.filter == .virtType)
        #expect(
            r?.reason
                == "guest needs domain type kvm; this host offers test only (no KVM: /dev/kvm is missing or unusable here)"
        )
        let t1 = try #require(h.guests.first { $0.name == "t1" })
        #expect(
            LiveFilters.rejection(
                guest: t1, sourcePools: [], sourceHypervisorVersion: nil, target: h, bridges: .match, bridgeMap: [:])
                == nil)
    }

    @Test func capabilitiesGiveEachTypeItsMachines() throws {
        // libvirt 9.0 with KVM (the lab's lab-1): machines at arch level, both types offered;
        // older libvirt lists a type's own machines under its <domain>.
        let caps = """
            <capabilities><host><cpu><arch>x86_64</arch></cpu></host>
              <guest><os_type>hvm</os_type><arch name='x86_64'>
                <machine canonical='pc-i440fx-7.2'>pc</machine><machine>pc-q35-7.2</machine>
                <domain type='qemu'/>
                <domain type='kvm'><machine>pc-kvm-only</machine></domain>
              </arch></guest>
              <guest><os_type>hvm</os_type><arch name='i686'><domain type='xen'/></arch></guest>
            </capabilities>
            """
        let parsed = try HostXML.capabilities(caps)
        #expect(
            parsed.virtTypes == [
                HostXML.VirtType(type: "kvm", machineTypes: ["pc", "pc-i440fx-7.2", "pc-kvm-only", "pc-q35-7.2"]),
                HostXML.VirtType(type: "qemu", machineTypes: ["pc", "pc-i440fx-7.2", "pc-q35-7.2"]),
            ])
        #expect(try DomainXML.parse("<domain type='qemu'/>", hostCPUModel: "", pools: []).virtType == "qemu")
        #expect(try DomainXML.parse("<domain/>", hostCPUModel: "", pools: []).virtType == nil)
    }
}
