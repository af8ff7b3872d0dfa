import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// The adapter's pure mappings, and its behaviour on the test driver (no daemon needed).
@Suite struct LibvirtHypervisorTests {
    func request(
        _ configure: (inout MigrationOptions) -> Void = { _ in }, copy: [String] = [], bridges: [String: String] = [:]
    ) -> MigrationRequest {
        var o = MigrationOptions()
        configure(&o)
        return MigrationRequest(
            guestUUID: "u", guestName: "g", source: HostEndpoint(name: "s", uri: "test:///default"),
            target: HostEndpoint(name: "t", uri: "qemu+ssh://t/system", migrateURI: "tcp://10.0.0.2"),
            mode: o.mode, options: o, copyStorage: copy, bridgeMap: bridges)
    }

    @Test func liveDefaults() {
        let s = MigrationSettings(request(), destinationXML: nil)
        let expected: UInt32 = (1 << 1) | (1 << 0) | (1 << 3) | (1 << 4)
        #expect(s.flags == expected) // P2P | LIVE | PERSIST_DEST | UNDEFINE_SOURCE
        #expect(s.params == [.string("migrate_uri", "tcp://10.0.0.2")])
    }

    @Test func everyOption() {
        let s = MigrationSettings(
            request(
                {
                    $0.bandwidthBytesPerSec = 100 * 1_048_576 + 1
                    $0.autoConverge = .init(initial: 20, increment: 10)
                    $0.compression = true
                    $0.compressionMethod = .zstd
                    $0.postCopy = .afterFirstPass
                    $0.parallelConnections = 4
                    $0.tls = true
                }, copy: ["vda", "vdb"]), destinationXML: "<domain/>", persistentXML: "<domain persistent/>")
        // … | TLS (1 << 16)
        let expected: UInt32 =
            (1 << 1) | (1 << 0) | (1 << 3) | (1 << 4) | (1 << 13) | (1 << 11) | (1 << 15) | (1 << 17) | (1 << 6)
            | (1 << 16)
        #expect(s.flags == expected)
        #expect(
            s.params == [
                .string("migrate_uri", "tcp://10.0.0.2"), .string("destination_xml", "<domain/>"),
                .string("persistent_xml", "<domain persistent/>"), .string("compression", "zstd"),
                .ullong("bandwidth", 101), .ullong("bandwidth.postcopy", 101), .int("auto_converge.initial", 20),
                .int("auto_converge.increment", 10),
                .int("parallel.connections", 4), .string("migrate_disks", "vda"), .string("migrate_disks", "vdb"),
            ])
        #expect(throws: Never.self) { _ = try s.typedParams() }
    }

    /// A ladder that may switch to post-copy starts the migration with post-copy enabled, and
    /// the plan's cap holds in post-copy too (QEMU leaves that phase unlimited otherwise).
    @Test func theLaddersPostCopyIsEnabledUpFrontAndCapped() {
        let s = MigrationSettings(
            request {
                $0.bandwidthBytesPerSec = 8 * 1_048_576
                $0.ladder = ConvergenceLadder(postCopy: true)
            }, destinationXML: nil)
        #expect(s.flags & (1 << 15) != 0, "VIR_MIGRATE_POSTCOPY")
        #expect(s.params.contains(.ullong("bandwidth.postcopy", 8)))
        let plain = MigrationSettings(request { $0.bandwidthBytesPerSec = 8 * 1_048_576 }, destinationXML: nil)
        #expect(plain.flags & (1 << 15) == 0)
        #expect(!plain.params.contains(.ullong("bandwidth.postcopy", 8)))
    }

    /// Without persist there is no definition to save on the target: no persistent XML.
    @Test func persistentXMLOnlyWhenTheTargetKeepsADefinition() {
        let kept = MigrationSettings(request(), destinationXML: "<d/>", persistentXML: "<p/>")
        #expect(kept.params.contains(.string("persistent_xml", "<p/>")))
        let transient = MigrationSettings(
            request {
                $0.persist = false
                $0.undefineSource = false
            },
            destinationXML: "<d/>", persistentXML: "<p/>")
        #expect(!transient.params.contains(.string("persistent_xml", "<p/>")))
        let offline = MigrationSettings(request { $0.mode = .offline }, destinationXML: "<d/>", persistentXML: "<p/>")
        #expect(offline.params.contains(.string("persistent_xml", "<p/>")), "offline always persists")
    }

    @Test func pausedAndOfflineModes() {
        let paused = MigrationSettings(request { $0.mode = .paused }, destinationXML: nil)
        #expect(paused.flags & 1 == 0) // no LIVE: the guest is paused during the transfer
        let offline = MigrationSettings(
            request {
                $0.mode = .offline
                $0.persist = false
                $0.bandwidthBytesPerSec = 1 << 20
                $0.compression = true
            },
            destinationXML: nil)
        let expected: UInt32 = (1 << 1) | (1 << 10) | (1 << 3) | (1 << 4)
        #expect(offline.flags == expected) // P2P | OFFLINE | PERSIST_DEST (forced) | UNDEFINE_SOURCE
        #expect(offline.params == [.string("migrate_uri", "tcp://10.0.0.2")])
    }

    @Test func bridgeRewriteTouchesOnlyInterfaceSources() {
        let xml = """
            <domain><devices><disk><source bridge='br0'/></disk>
            <interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
            <interface type="network"><source network="prod"/></interface>
            <interface type='bridge'><source bridge='other'/></interface></devices></domain>
            """
        let out = BridgeRewrite.apply(["br0": "br-new", "prod": "prod2"], to: xml)
        #expect(
            out == """
                <domain><devices><disk><source bridge='br0'/></disk>
                <interface type='bridge'><source bridge='br-new'/><model type='virtio'/></interface>
                <interface type="network"><source network="prod2"/></interface>
                <interface type='bridge'><source bridge='other'/></interface></devices></domain>
                """)
    }

    @Test func cpuDefinitionToCompare() throws {
        let custom =
            "<domain type='kvm'><os><type arch='x86_64'>hvm</type></os><cpu mode='custom' match='exact'><model fallback='forbid'>Skylake</model></cpu></domain>"
        let noCaps: () throws(LibvirtError) -> String = { () throws(LibvirtError) in
            throw LibvirtError.xml("unused", uri: nil, operation: "x")
        }
        let customInput = try CPUComparison.input(domainXML: custom, sourceDomainCapabilities: noCaps)
        #expect(
            customInput
                == CPUComparison.Input(
                    arch: "x86_64", virtType: "kvm",
                    cpuXML: "<cpu match='exact' mode='custom'><model fallback='forbid'>Skylake</model></cpu>"))
        let hostModel = "<domain type='kvm'><os><type arch='x86_64'>hvm</type></os><cpu mode='host-model'/></domain>"
        let caps =
            "<domainCapabilities><cpu><mode name='host-passthrough' supported='yes'/><mode name='host-model' supported='yes'><model fallback='forbid'>Icelake</model><vendor>Intel</vendor><feature policy='require' name='ssbd'/></mode></cpu></domainCapabilities>"
        let withCaps: () throws(LibvirtError) -> String = { () throws(LibvirtError) in caps }
        let hostModelXML = try CPUComparison.input(domainXML: hostModel, sourceDomainCapabilities: withCaps)?.cpuXML
        #expect(
            hostModelXML
                == "<cpu match='exact' mode='custom'><model fallback='forbid'>Icelake</model><vendor>Intel</vendor><feature name='ssbd' policy='require'/></cpu>"
        )
        let passthrough = "<domain type='kvm'><cpu mode='host-passthrough'/></domain>"
        let passthroughInput = try CPUComparison.input(domainXML: passthrough, sourceDomainCapabilities: noCaps)
        #expect(passthroughInput == nil)
        // check='none': libvirt judges nothing for a shut-off definition, and neither does evac;
        // the same CPU of a running guest (its XML has an id) is still compared.
        let unchecked = "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>"
        let shutOff = "<domain type='kvm'><os><type arch='x86_64'>hvm</type></os>\(unchecked)</domain>"
        #expect(try CPUComparison.input(domainXML: shutOff, sourceDomainCapabilities: noCaps) == nil)
        let running = "<domain type='kvm' id='4'><os><type arch='x86_64'>hvm</type></os>\(unchecked)</domain>"
        #expect(try CPUComparison.input(domainXML: running, sourceDomainCapabilities: noCaps)?.virtType == "kvm")
    }

    /// The test driver's default node holds a running, persistent domain "test".
    @Test func testDriverLocateCompareAndMissingHost() async throws {
        let hv = LibvirtHypervisor()
        let host = HostEndpoint(name: "default", uri: "test:///default")
        let uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
        #expect(try await hv.locate(guestUUID: uuid, on: host) == .present(state: .running, persistent: true))
        #expect(try await hv.locate(guestUUID: "00000000-0000-4000-8000-000000000000", on: host) == .absent)
        // The test driver has no CPU comparison: "cannot tell", not an error.
        #expect(try await hv.compareCPU(guestUUID: uuid, source: host, target: host) == nil)
        let gone = HostEndpoint(name: "gone", uri: "qemu+unix:///session?socket=/nonexistent/sock")
        let error = await #expect(throws: HypervisorError.self) { try await hv.locate(guestUUID: uuid, on: gone) }
        #expect(error?.kind == .unreachable)
        #expect(error?.host == "gone")
        #expect(error?.description.contains("/nonexistent/sock") == true)
    }
}
