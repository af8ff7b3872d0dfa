import EvacCore
import Testing

@testable import EvacLibvirt

/// What the storage-copy and snapshot filters read: pools' state and free space, disks'
/// formats and backing chains (XML), sizes and snapshot counts (libvirt's test driver).
@Suite struct StorageInventoryTests {
    @Test func poolsGiveTheirFreeSpaceWhenActive() throws {
        let xml = """
            <pool type='dir'><name>images</name><capacity unit='bytes'>100</capacity>
            <available unit='bytes'>42949672960</available><target><path>/var/lib/libvirt/images</path></target></pool>
            """
        #expect(
            try HostXML.storagePool(name: "images", xml: xml, active: true)
                == StoragePoolInfo(
                    name: "images", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false, active: true,
                    availableBytes: 42_949_672_960))
        let stopped = try HostXML.storagePool(name: "images", xml: xml, active: false)
        #expect(stopped.active == false)
        #expect(stopped.availableBytes == nil, "an inactive pool's figures are stale")
        let kib = "<pool type='dir'><available unit='KiB'>2</available></pool>"
        #expect(try HostXML.storagePool(name: "p", xml: kib, active: true).availableBytes == 2048)
    }

    @Test func disksGiveTheirFormatAndBackingChain() throws {
        let def = try DomainXML.parse(
            """
            <domain type='kvm'><name>g</name><memory>1024</memory><devices>
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
              <source file='/var/lib/libvirt/images/top.qcow2'/>
              <backingStore type='file'><format type='qcow2'/><source file='/images/mid.qcow2'/>
                <backingStore type='file'><format type='raw'/><source file='/images/base.raw'/><backingStore/></backingStore>
              </backingStore>
              <target dev='vda' bus='virtio'/></disk>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/x/plain.img'/>
              <backingStore/><target dev='vdb'/></disk>
            </devices></domain>
            """, hostCPUModel: "", pools: [])
        #expect(def.disks.map(\.format) == ["qcow2", "raw"])
        #expect(def.disks[0].backingChain == ["/images/mid.qcow2", "/images/base.raw"])
        #expect(def.disks[1].backingChain == nil, "an empty <backingStore/> ends the chain")
    }

    /// The test driver keeps snapshots and answers virDomainGetBlockInfo for its default
    /// guest's (sourceless) disks as unknown: the reader must not fail the host over them.
    @Test func theReaderCountsSnapshotsAndLeavesUnknownSizesOut() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        guard let dom = try c.domains().first else {
            Issue.record("test:///default has no guest")
            return
        }
        #expect(try StorageFacts.snapshots(of: dom) == nil)
        let host = try HostReader.read(name: "default", connection: c)
        let pool = host.storagePools.first { $0.name == "default-pool" }
        #expect(pool?.active == true)
        #expect(pool?.availableBytes != nil)
        #expect(host.guests.allSatisfy { $0.snapshots == nil })
    }
}

/// Domain capabilities as libvirt 9.0 writes them (trimmed): the CPU offer placement judges.
@Suite struct CPUModelsTests {
    @Test func knownModelsAndHostModel() throws {
        let xml = """
            <domainCapabilities><path>/usr/bin/qemu-system-x86_64</path><cpu>
            <mode name='host-passthrough' supported='yes'/>
            <mode name='host-model' supported='yes'><model fallback='forbid'>Skylake-Client-IBRS</model></mode>
            <mode name='custom' supported='yes'>
              <model usable='yes' vendor='AMD'>qemu64</model>
              <model usable='no' vendor='Intel'>Icelake-Server</model>
              <model usable='yes' vendor='Intel'>Skylake-Client</model>
            </mode></cpu></domainCapabilities>
            """
        #expect(
            try CPUModels.offer(domainCapabilitiesXML: xml)
                == .init(known: ["Icelake-Server", "Skylake-Client", "qemu64"], hostModel: true),
            "usable='no' models too: a running guest's live CPU disables what is missing")
        let tcg = xml.replacingOccurrences(
            of: "name='host-model' supported='yes'", with: "name='host-model' supported='no'")
        #expect(try CPUModels.offer(domainCapabilitiesXML: tcg)?.hostModel == false)
        #expect(try CPUModels.offer(domainCapabilitiesXML: "<domainCapabilities/>") == nil)
    }
}
