import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// Parser cases the test driver cannot produce (it rewrites units, has no vendor, …).
@Suite struct XMLParsingTests {
    let pools = [
        StoragePoolInfo(name: "vmstore", type: "netfs", targetPath: "/srv/vmstore", shared: true),
        StoragePoolInfo(name: "local", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false),
    ]

    func domain(_ body: String, memory: String = "<memory>1048576</memory>") throws -> DomainDefinition {
        try DomainXML.parse(
            "<domain type='kvm'><name>g</name>\(memory)<vcpu current='2'>4</vcpu>\(body)</domain>",
            hostCPUModel: "Icelake-Server", pools: pools)
    }

    static let memoryCases: [(String, UInt64)] = [
        ("<memory>1024</memory>", 1024),
        ("<memory unit='KiB'>1024</memory>", 1024),
        ("<memory unit='k'>1024</memory>", 1024),
        ("<memory unit='MiB'>4096</memory>", 4 * 1024 * 1024),
        ("<memory unit='M'>2</memory>", 2048),
        ("<memory unit='GiB'>64</memory>", 64 * 1024 * 1024),
        ("<memory unit='G'>1</memory>", 1024 * 1024),
        ("<memory unit='TiB'>1</memory>", 1024 * 1024 * 1024),
        ("<memory unit='bytes'>1048576</memory>", 1024),
        ("<memory unit='b'>1</memory>", 1), // rounded up to a whole KiB, as libvirt does
        ("<memory unit='KB'>1024</memory>", 1000),
        ("<memory unit='MB'>1</memory>", 977), // 1,000,000 bytes, rounded up
        ("<memory unit='GB'>1</memory>", 976563),
    ]

    @Test(arguments: memoryCases)
    func memoryUnits(xml: String, kib: UInt64) throws {
        let d = try domain("", memory: xml)
        #expect(d.memoryKiB == kib)
        #expect(d.currentMemoryKiB == kib) // no <currentMemory>: equals the maximum
    }

    @Test func badMemoryIsAnError() {
        #expect(throws: DomainXMLError.self) { try domain("", memory: "<memory unit='furlong'>1</memory>") }
        #expect(throws: DomainXMLError.self) { try domain("", memory: "<memory>lots</memory>") }
        #expect(throws: (any Error).self) { try DomainXML.parse("<domain", hostCPUModel: "", pools: []) }
    }

    @Test func vcpusAreTheMaximum() throws {
        #expect(try domain("").vcpus == 4)
    }

    @Test func cpuModes() throws {
        #expect(try domain("").cpu == GuestCPU(mode: .none))
        #expect(
            try domain("<cpu mode='host-passthrough'/>").cpu
                == GuestCPU(mode: .hostPassthrough, model: "Icelake-Server"))
        #expect(try domain("<cpu mode='maximum'/>").cpu == GuestCPU(mode: .maximum))
        // No mode attribute means custom; a feature without a policy is required; disable/optional/forbid are not.
        let custom = try domain(
            """
            <cpu match='exact'><model>Haswell-noTSX</model><feature name='vmx'/><feature policy='force' name='aes'/>
            <feature policy='optional' name='ssse3'/><feature policy='disable' name='hle'/><feature policy='forbid' name='rtm'/></cpu>
            """
        ).cpu
        #expect(custom == GuestCPU(mode: .custom, model: "Haswell-noTSX", features: ["aes", "vmx"]))
        #expect(try domain("<cpu mode='host-model'><model fallback='allow'/></cpu>").cpu == GuestCPU(mode: .hostModel))
    }

    @Test func nics() throws {
        let d = try domain(
            """
            <devices>
              <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>
              <interface type='network'><source network='default' portgroup='x'/></interface>
              <interface type='direct'><source dev='eth1' mode='vepa'/></interface>
              <interface type='user'/>
              <interface type='vhostuser'><source type='unix' path='/run/s' mode='client'/></interface>
              <interface type='hostdev' managed='yes'>
                <source><address type='pci' domain='0x0000' bus='0x81' slot='0x10' function='0x2'/></source>
              </interface>
            </devices>
            """)
        #expect(
            d.nics == [
                GuestNIC(kind: .bridge, source: "br0", mac: "52:54:00:00:00:01"),
                GuestNIC(kind: .network, source: "default"),
                GuestNIC(kind: .direct, source: "eth1"),
                GuestNIC(kind: .user, source: ""),
                GuestNIC(kind: .other, source: "vhostuser"),
                GuestNIC(kind: .other, source: "hostdev"),
            ])
        // An SR-IOV VF given as an interface is still a passed-through PCI device.
        #expect(d.hostDevices == ["pci:0000:81:10.2"])
    }

    /// libvirt 9.0's live XML of a running guest's NIC on a forward-mode-bridge network (the lab's
    /// lab-net): the actual type, bridge, with the network it came from. It is a network NIC.
    @Test func liveNICOnANetworkIsANetworkNIC() throws {
        let d = try domain(
            """
            <devices>
              <interface type='bridge'><mac address='52:54:00:d6:af:95'/>
                <source network='lab-net' portid='c0120bd4-4fe1-45aa-97b7-cdb79d492169' bridge='nb-lab-net'/>
                <target dev='vnet1'/><model type='virtio'/></interface>
              <interface type='direct'><source network='macvtap-net' dev='eth0' mode='bridge'/></interface>
            </devices>
            """)
        #expect(
            d.nics == [
                GuestNIC(kind: .network, source: "lab-net", mac: "52:54:00:d6:af:95"),
                GuestNIC(kind: .network, source: "macvtap-net"),
            ])
    }

    @Test func machineTypesFromCapabilities() throws {
        let caps = try HostXML.capabilities(
            """
            <capabilities><host><cpu><arch>x86_64</arch></cpu></host>
              <guest><os_type>hvm</os_type><arch name='x86_64'>
                <machine maxCpus='255'>pc-i440fx-7.2</machine><machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
                <domain type='kvm'><machine>pc-q35-7.2</machine></domain>
              </arch></guest>
              <guest><os_type>hvm</os_type><arch name='aarch64'><machine>virt-7.2</machine></arch></guest>
            </capabilities>
            """)
        #expect(caps.machineTypes == ["pc", "pc-i440fx-7.2", "pc-q35-7.2"])
        #expect(try domain("<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>").machine == "pc-q35-7.2")
    }

    @Test func nicFilterReference() throws {
        let d = try domain(
            """
            <devices>
              <interface type='bridge'><source bridge='br0'/><filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></interface>
              <interface type='bridge'><source bridge='br1'/></interface>
            </devices>
            """)
        #expect(d.nics.map(\.filter) == ["clean-traffic", nil])
    }

    @Test func filesystemPassthrough() throws {
        let d = try domain(
            """
            <devices>
              <filesystem type='mount' accessmode='passthrough'>
                <driver type='virtiofs'/><source dir='/srv/share'/><target dir='share'/>
              </filesystem>
              <filesystem type='mount'><source dir='/srv/9p'/><target dir='nine'/></filesystem>
            </devices>
            """)
        #expect(d.filesystems == ["/srv/share → share (virtiofs)", "/srv/9p → nine (9p)"])
        #expect(try domain("<devices/>").filesystems == [])
    }

    @Test func disks() throws {
        let d = try domain(
            """
            <devices>
              <disk type='file' device='disk'><source file='/srv/vmstore/a.qcow2'/><target dev='vda'/></disk>
              <disk type='file' device='disk'><source file='/srv/vmstore2/b.qcow2'/><target dev='vdb'/></disk>
              <disk type='file' device='disk'><source file='/var/lib/libvirt/images/c.qcow2'/><target dev='vdc'/></disk>
              <disk type='block' device='disk'><source dev='/dev/mapper/mpatha'/><target dev='vdd'/><shareable/></disk>
              <disk type='block' device='lun'><source dev='/dev/sdb'/><target dev='sdb'/></disk>
              <disk type='network' device='disk'><source protocol='nbd'><host name='nbd.example' port='10809'/></source><target dev='vde'/></disk>
              <disk type='volume' device='disk'><source pool='vmstore' volume='d.img'/><target dev='vdf'/></disk>
              <disk type='volume' device='disk'><source pool='local' volume='e.img'/><target dev='vdg'/></disk>
              <disk type='volume' device='disk'><source pool='unknown' volume='f.img'/><target dev='vdh'/></disk>
              <disk type='file' device='cdrom'><target dev='sda'/><readonly/></disk>
              <disk type='dir' device='floppy'><source dir='/srv/floppy'/><target dev='fda'/></disk>
            </devices>
            """)
        #expect(
            d.disks.map { "\($0.target) \($0.kind.rawValue) \($0.device) \($0.source) \($0.shared)" } == [
                "vda file disk /srv/vmstore/a.qcow2 true",
                "vdb file disk /srv/vmstore2/b.qcow2 false", // a sibling directory, not under the pool
                "vdc file disk /var/lib/libvirt/images/c.qcow2 false",
                "vdd block disk /dev/mapper/mpatha true",
                "sdb block lun /dev/sdb false",
                "vde network disk nbd:nbd.example true",
                "vdf volume disk vmstore/d.img true",
                "vdg volume disk local/e.img false",
                "vdh volume disk unknown/f.img false",
                "sda file cdrom  true",
                "fda other floppy /srv/floppy false",
            ])
        #expect(
            d.disks.map(\.readonly) == [false, false, false, false, false, false, false, false, false, true, false])
    }

    /// Disks that no pool holds keep their type as the source, which Migratability refuses live.
    @Test func vhostUserAndNVMeDisksKeepTheirType() throws {
        let d = try domain(
            """
            <devices>
              <disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/run/spdk/vhost.0'><reconnect enabled='yes' timeout='10'/></source><target dev='vda' bus='virtio'/></disk>
              <disk type='nvme' device='disk'><driver name='qemu' type='raw'/><source type='pci' managed='yes' namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source><target dev='vdb' bus='virtio'/></disk>
            </devices>
            """)
        #expect(d.disks.map(\.source) == ["vhostuser", "nvme"])
        #expect(d.disks.allSatisfy { $0.kind == .other && !$0.shared })
    }

    @Test func hostDevices() throws {
        let d = try domain(
            """
            <devices>
              <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
              <hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>
              <hostdev mode='subsystem' type='usb'><source><address bus='1' device='4'/></source></hostdev>
              <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source></hostdev>
              <hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.2024-01.net.example:t1/1'><host name='san.example'/></source></hostdev>
              <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
              <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>
            </devices>
            """)
        #expect(
            d.hostDevices == [
                "pci:0000:03:00.0", "usb:046d:c52b", "usb:1.4", "scsi:scsi_host0:0:0:1",
                "scsi:iscsi:san.example:iqn.2024-01.net.example:t1/1",
                "mdev:c2177883-f1bb-47f0-914d-32a22e3a8804", "storage:?",
            ])
    }

    @Test func realCapabilities() throws {
        let caps = try HostXML.capabilities(
            """
            <capabilities><host><uuid>4c4c4544-0044-3010-8031-b4c04f4e3732</uuid>
            <cpu><arch>x86_64</arch><model>Icelake-Server-noTSX</model><vendor>Intel</vendor>
            <topology sockets='1' cores='8' threads='2'/><feature name='ds'/><feature name='vmx'/></cpu></host></capabilities>
            """)
        #expect(
            caps
                == .init(
                    hostUUID: "4c4c4544-0044-3010-8031-b4c04f4e3732", arch: "x86_64", vendor: "Intel",
                    model: "Icelake-Server-noTSX", features: ["ds", "vmx"]))
    }

    @Test func hostDocuments() throws {
        #expect(try HostXML.bridgeName(interfaceXML: "<interface type='bridge' name='br0'/>") == "br0")
        #expect(try HostXML.bridgeName(interfaceXML: "<interface type='ethernet' name='eth0'/>") == nil)
        #expect(try HostXML.networkBridge("<network><name>n</name><forward mode='bridge'/></network>") == nil)
        #expect(
            try HostXML.storagePool(
                name: "san", xml: "<pool type='iscsi'><target><path>/dev/disk/by-path</path></target></pool>")
                == StoragePoolInfo(name: "san", type: "iscsi", targetPath: "/dev/disk/by-path", shared: true))
        #expect(try HostXML.storagePool(name: "lv", xml: "<pool type='logical'/>").shared == false)
    }

    @Test func errorsRedactPasswords() {
        #expect(redactURI("qemu+ssh://root:hunter2@kvm-12a/system") == "qemu+ssh://root:***@kvm-12a/system")
        #expect(redactURI("qemu+ssh://root@kvm-12a/system") == "qemu+ssh://root@kvm-12a/system")
        #expect(redactURI("test:///default") == "test:///default")
        let e = LibvirtError(
            code: 38, domain: 7, message: "boom", uri: "qemu+tls://u:pw@h/system", operation: "virConnectOpenAuth")
        #expect(!e.description.contains("pw@"))
        #expect(
            e.description == "libvirt error on qemu+tls://u:***@h/system: virConnectOpenAuth: boom (code 38, domain 7)")
    }
}

/// Storage pool capabilities as a libvirt 9.0 daemon writes them (the lab's, captured).
@Suite struct PoolCapabilitiesTests {
    @Test func poolCapabilitiesGiveTheVolumeFormatsPerPoolType() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let xml = try String(
            contentsOf: url.appendingPathComponent("poolcaps/libvirt-9.0.0.xml"), encoding: .utf8)
        let formats = try HostXML.poolVolumeFormats(xml)
        #expect(formats["dir"]?.contains("qcow2") == true)
        #expect(formats["dir"]?.contains("raw") == true)
        #expect(formats["dir"]?.contains("none") == false, "'none' is no image format")
        #expect(formats["netfs"] == formats["dir"])
        #expect(formats["logical"] == [], "no format choice: raw data only")
        #expect(formats["disk"]?.contains("qcow2") == false)
        #expect(formats["disk"]?.contains("linux") == true)
        #expect(formats["rbd"] == nil, "not supported by this daemon (no rbd backend installed)")
    }
}
