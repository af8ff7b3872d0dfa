import EvacCore
import Foundation
import XCTest

@testable import EvacLibvirt

/// End to end against two real (unprivileged, session) libvirt daemons on this machine:
/// live migration, cancellation → abort, and an unreachable host. Fails (never skips) when
/// the daemons cannot start. About 15 s.
final class MigrationLabTests: XCTestCase {
    private var lab: SessionDaemonLab?
    private let guestUUID = "5e1f0c4a-7d1e-4b5a-9c3e-ace000000001"
    private let guestName = "evac-lab-fill"

    override func tearDown() {
        lab?.tearDown(guestUUIDs: [guestUUID])
        lab = nil
        super.tearDown()
    }

    func testLiveMigrationCancelAndUnreachable() async throws {
        let lab = try SessionDaemonLab()
        self.lab = lab
        let started = Date()
        let a = try lab.start("a", hostUUID: "0d5a0000-0000-4000-8000-00000000000a")
        let b = try lab.start("b", hostUUID: "0d5a0000-0000-4000-8000-00000000000b")
        print("lab: two daemons ready in \(ms(since: started)) ms")
        let hostA = HostEndpoint(name: "lab-a", uri: a.uri, migrateURI: "tcp://127.0.0.1")
        let hostB = HostEndpoint(name: "lab-b", uri: b.uri, migrateURI: "tcp://127.0.0.1")

        let image = try lab.sharedFile("fill.img", FillGuest.bootImage)
        let xml = FillGuest.xml(name: guestName, uuid: guestUUID, bootImage: image)
        try await LibvirtRuntime.blocking("lab.define") { () -> Result<Void, LibvirtError> in
            Result { () throws(LibvirtError) in try LibvirtConnection(uri: a.uri).define(xml: xml).start() }
        }.get()
        try await Task.sleep(for: .seconds(1.5)) // let the boot sector fill its 48 MiB

        let hv = LibvirtHypervisor(pollInterval: 0.2)
        let presentOnA = try await hv.locate(guestUUID: guestUUID, on: hostA)
        XCTAssertEqual(presentOnA, .present(state: .running, persistent: true))
        let inventory = try await hv.inspect(hostA)
        XCTAssertEqual(inventory.guests.map(\.uuid), [guestUUID])
        // What the test driver cannot show, read from a real daemon.
        XCTAssertEqual(inventory.hostUUID, "0d5a0000-0000-4000-8000-00000000000a")
        XCTAssertGreaterThan(inventory.memoryKiB, 0)
        XCTAssertGreaterThan(inventory.freeMemoryKiB, 0)
        XCTAssertFalse(inventory.cpu.vendor.isEmpty)
        XCTAssertFalse(inventory.cpu.model.isEmpty)
        // The expanded baseline: features the host has through its model, not only the extras.
        XCTAssertTrue(
            inventory.cpu.features.contains("x2apic") || inventory.cpu.features.contains("sse2"),
            "host features should include the model's own: \(inventory.cpu.features)")
        let guest = try XCTUnwrap(inventory.guests.first)
        XCTAssertEqual(guest.state, .running)
        XCTAssertTrue(guest.persistent)
        XCTAssertEqual(guest.uuid, guestUUID)
        let verdict = try await hv.compareCPU(guestUUID: guestUUID, source: hostA, target: hostB)
        print("lab: compareCPU(qemu64 guest, a → b) = \(verdict.map(\.rawValue) ?? "nil")")
        XCTAssertNotEqual(verdict, .incompatible)

        // (1) Live, persist on B, undefine on A.
        var options = MigrationOptions()
        options.mode = .live
        // 32 MiB/s: ~1.5 s of transfer, so the 200 ms poller reliably sees it in flight.
        options.bandwidthBytesPerSec = 32 << 20
        let samples = Samples()
        var t0 = Date()
        let outcome = try await hv.migrate(request(hostA, hostB, options), progress: samples.add)
        print(
            "lab: live migration a → b took \(ms(since: t0)) ms wall; libvirt: \(outcome.durationMs) ms, downtime \(outcome.downtimeMs.map(String.init) ?? "?") ms, \(outcome.transferredBytes) bytes, \(samples.count) progress samples, \(outcome.stats.count) stats"
        )
        let presentOnB = try await hv.locate(guestUUID: guestUUID, on: hostB)
        XCTAssertEqual(presentOnB, .present(state: .running, persistent: true))
        let absentOnA = try await hv.locate(guestUUID: guestUUID, on: hostA)
        XCTAssertEqual(absentOnA, .absent)
        XCTAssertGreaterThan(samples.count, 0, "no progress callback during the migration")
        XCTAssertFalse(outcome.stats.isEmpty, "no final job statistics")
        XCTAssertGreaterThan(outcome.transferredBytes, 40 << 20, "the guest's 48 MiB of data should have been sent")

        // (2) Back to A at 1 MiB/s (about 50 s of work); cancel after ~1 s → aborted, still on B.
        options.bandwidthBytesPerSec = 1 << 20
        let slow = Samples()
        t0 = Date()
        let back = request(hostB, hostA, options)
        let task = Task { () async throws -> MigrationOutcome in try await hv.migrate(back, progress: slow.add) }
        try await Task.sleep(for: .seconds(1.2))
        let inFlight = slow.last
        XCTAssertNotNil(inFlight, "no progress sample before the cancel")
        XCTAssertGreaterThan(inFlight?.dataRemaining ?? 0, 0, "the migration must still be running when cancelled")
        task.cancel()
        let cancelledAt = Date()
        let result = await task.result
        print(
            "lab: cancel → result in \(ms(since: cancelledAt)) ms (migration ran \(ms(since: t0)) ms; last sample \(inFlight.map { "\($0.dataProcessed)/\($0.dataTotal) bytes, iteration \($0.iteration)" } ?? "none"))"
        )
        switch result {
        case .success: XCTFail("a cancelled migration reported success")
        case .failure(let error as HypervisorError): XCTAssertEqual(error.kind, .aborted, "\(error)")
        case .failure(let error): XCTFail("unexpected error type: \(error)")
        }
        let stillOnB = try await hv.locate(guestUUID: guestUUID, on: hostB)
        XCTAssertEqual(stillOnB, .present(state: .running, persistent: true))
        let notOnA = try await hv.locate(guestUUID: guestUUID, on: hostA)
        XCTAssertEqual(notOnA, .absent)

        // (3) A stopped daemon: both through the (now dead) cached connection and a fresh one.
        lab.stop("a")
        for (label, hypervisor) in [("cached", hv), ("fresh", LibvirtHypervisor())] {
            do {
                _ = try await hypervisor.locate(guestUUID: guestUUID, on: hostA)
                XCTFail("\(label): locate on a stopped daemon succeeded")
            } catch {
                XCTAssertEqual(error.kind, .unreachable, "\(label): \(error)")
                XCTAssertEqual(error.host, "lab-a")
                XCTAssertEqual(error.uri, a.uri)
                XCTAssertTrue(error.description.contains(a.uri), "\(label): \(error)")
            }
        }
        print("lab: total \(ms(since: started)) ms")
    }

    /// A daemon frozen with SIGSTOP (accepts, never answers): an open gives up at the connect
    /// timeout and the connection that opens once the daemon is thawed is closed, not kept; a
    /// call on a connection opened before the freeze gives up at the call timeout, naming the
    /// call; after the thaw the host answers again.
    func testFrozenDaemonDeadlinesAndTheLateConnection() async throws {
        let lab = try SessionDaemonLab()
        self.lab = lab
        let c = try lab.start("c", hostUUID: "0d5a0000-0000-4000-8000-00000000000c")
        let pid = try XCTUnwrap(lab.pid("c"))
        let host = HostEndpoint(name: "lab-c", uri: c.uri)
        let quick = ConnectionSettings(connectTimeoutMs: 500, callTimeoutMs: 1000)
        // A fresh daemon probes QEMU on its first capabilities call (seconds): warm it up under
        // the default deadlines, then cache a connection under the short ones.
        do { _ = try await LibvirtHypervisor().inspect(host) }
        try await until { LibvirtConnection.openCount(uri: c.uri) == 0 }
        let hv = LibvirtHypervisor(settings: quick)
        _ = try await hv.inspect(host)
        XCTAssertEqual(LibvirtConnection.openCount(uri: c.uri), 1, "the hypervisor's cached connection")

        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        var thawed = false
        defer { if !thawed { kill(pid, SIGCONT) } }
        do {
            _ = try await hv.inspect(host)
            XCTFail("a frozen daemon answered")
        } catch {
            XCTAssertEqual(error.kind, .unreachable, "\(error)")
            XCTAssertTrue(error.message.contains("no answer within 1s (call timeout)"), "\(error)")
            XCTAssertTrue(
                error.message.hasPrefix("virConnect") || error.message.hasPrefix("virNode")
                    || error.message.hasPrefix("virDomain"),
                "names the libvirt call: \(error)")
        }
        do {
            // The stuck connection was dropped: this opens a new one, which does not open in time.
            _ = try await hv.locate(guestUUID: "5e1f0c4a-7d1e-4b5a-9c3e-ace0000000cc", on: host)
            XCTFail("a frozen daemon answered")
        } catch {
            XCTAssertEqual(error.kind, .unreachable, "\(error)")
            XCTAssertTrue(error.message.hasPrefix("virConnectOpenAuth: no connection within 500ms"), "\(error)")
        }
        do {
            _ = try await LibvirtConnection.open(uri: c.uri, settings: quick)
            XCTFail("a connection to a frozen daemon opened")
        } catch {
            XCTAssertEqual(error.kind, .noAnswer, "\(error)")
            XCTAssertEqual(error.operation, "virConnectOpenAuth")
        }
        XCTAssertGreaterThan(LibvirtRuntime.abandoned.current, 0, "the open and the call wait on their own threads")

        XCTAssertEqual(kill(pid, SIGCONT), 0)
        thawed = true
        // Thawed, the daemon answers the abandoned opens and call; the threads end, and all their
        // connections are closed: the late ones were never kept (not even in the hypervisor's
        // cache), the stuck one was dropped.
        try await until { LibvirtRuntime.abandoned.current == 0 && LibvirtConnection.openCount(uri: c.uri) == 0 }
        XCTAssertEqual(LibvirtRuntime.abandoned.current, 0, "abandoned threads ended after the thaw")
        XCTAssertEqual(LibvirtConnection.openCount(uri: c.uri), 0, "no connection left behind")
        let again = try await hv.inspect(host)
        XCTAssertEqual(
            again.hostUUID, "0d5a0000-0000-4000-8000-00000000000c", "the host answers again, on a new connection")
    }

    /// Issue 15, with libvirt as the judge, on a shut-off guest with a local disk and a bridged
    /// NIC: (1) evac's placement refuses to move it offline with its disk, and libvirt, made to
    /// try, refuses that same migration ("offline migration cannot handle non-shared storage");
    /// (2) moved offline with `bridge-map`, the definition the target saves has the new bridge.
    func testOfflineStorageCopyRefusedAndBridgeMapReachesTheSavedDefinition() async throws {
        let lab = try SessionDaemonLab()
        self.lab = lab
        let a = try lab.start("a", hostUUID: "0d5a0000-0000-4000-8000-00000000001a")
        let b = try lab.start("b", hostUUID: "0d5a0000-0000-4000-8000-00000000001b")
        let hostA = HostEndpoint(name: "lab-a", uri: a.uri, migrateURI: "tcp://127.0.0.1")
        let hostB = HostEndpoint(name: "lab-b", uri: b.uri, migrateURI: "tcp://127.0.0.1")
        let disk = try lab.sharedFile("off.img", Data(count: 1 << 20))
        let xml = FillGuest.xml(name: guestName, uuid: guestUUID, bootImage: disk)
            .replacingOccurrences(of: "<readonly/>", with: "")
            .replacingOccurrences(
                of: "<memballoon model='none'/>",
                with: """
                    <interface type='bridge'><source bridge='br-old'/><model type='virtio'/></interface>
                    <memballoon model='none'/>
                    """)
        try await LibvirtRuntime.blocking("lab.define") { () -> Result<Void, LibvirtError> in
            Result { () throws(LibvirtError) in _ = try LibvirtConnection(uri: a.uri).define(xml: xml) }
        }.get()
        let hv = LibvirtHypervisor(pollInterval: 0.2)

        // (1) evac's half: planned from the real inventory, the guest is refused, not planned.
        let inventory = Inventory(hosts: [try await hv.inspect(hostA), try await hv.inspect(hostB)])
        let guest = try XCTUnwrap(inventory.host(named: "lab-a")?.guests.first)
        XCTAssertEqual(guest.state, .shutoff)
        // The versions the version filter compares, as a real daemon reports them.
        let reported = inventory.host(named: "lab-a")
        print("lab: libvirt \(reported?.libvirtVersion ?? "?"), QEMU \(reported?.hypervisorVersion ?? "?")")
        XCTAssertEqual(reported?.libvirtVersion, LibvirtVersion.library(), "the daemon runs this machine's libvirt")
        XCTAssertNotNil(reported?.hypervisorVersion.flatMap { $0.split(separator: ".").count == 3 ? $0 : nil })
        XCTAssertEqual(guest.disks.map(\.shared), [false], "a file outside any shared pool is local")
        var spec = PlanSpec(
            name: "lab", hosts: [HostSpec(name: "lab-a", uri: a.uri), HostSpec(name: "lab-b", uri: b.uri)],
            sources: [Located("lab-a")], targetPools: [TargetPool(name: "b", hosts: [Located("lab-b")])])
        spec.constraints.localStorage = .copy
        spec.constraints.bridges = .ignore
        let placed = Placer.place(spec: spec, inventory: inventory)
        XCTAssertEqual(placed.placements.count, 0)
        XCTAssertTrue(
            placed.unplaceable.first?.guestReason?.contains("libvirt cannot copy storage in an offline migration")
                == true,
            "\(placed.unplaceable)")
        // libvirt's half: the migration evac refuses to plan, forced, is refused by libvirt.
        var options = MigrationOptions()
        options.mode = .offline
        let forced = MigrationRequest(
            guestUUID: guestUUID, guestName: guestName, source: hostA, target: hostB,
            mode: .offline, options: options, copyStorage: ["fda"])
        do {
            _ = try await hv.migrate(forced, progress: { _ in })
            XCTFail("libvirt accepted an offline migration with storage copy")
        } catch {
            print("lab: offline + storage copy, forced: \(error.message)")
            XCTAssertTrue(error.message.contains("offline migration cannot handle non-shared storage"), "\(error)")
        }
        let stillOnA = try await hv.locate(guestUUID: guestUUID, on: hostA)
        XCTAssertEqual(stillOnA, .present(state: .shutoff, persistent: true))

        // (2) bridge-map on an offline move: the definition b keeps names br-new.
        let renamed = MigrationRequest(
            guestUUID: guestUUID, guestName: guestName, source: hostA, target: hostB,
            mode: .offline, options: options, bridgeMap: ["br-old": "br-new"])
        _ = try await hv.migrate(renamed, progress: { _ in })
        let uuid = guestUUID
        let saved = try await LibvirtRuntime.blocking("lab.dumpxml") { () -> Result<String, LibvirtError> in
            Result { () throws(LibvirtError) in
                guard let dom = try LibvirtConnection(uri: b.uri).domain(uuid: uuid) else { return "" }
                return try dom.xmlDesc(inactive: true)
            }
        }.get()
        XCTAssertTrue(saved.contains("bridge='br-new'"), "the saved definition keeps the old bridge: \(saved)")
        XCTAssertFalse(saved.contains("br-old"), saved)
        let absentOnA = try await hv.locate(guestUUID: guestUUID, on: hostA)
        XCTAssertEqual(absentOnA, .absent)
    }

    /// Polls until `condition` holds, 30 s at most (what other threads do, with no event to wait on).
    private func until(_ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(30)
        while !condition() && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
    }

    private func request(_ from: HostEndpoint, _ to: HostEndpoint, _ options: MigrationOptions) -> MigrationRequest {
        MigrationRequest(
            guestUUID: guestUUID, guestName: guestName, source: from, target: to, mode: options.mode, options: options)
    }

    private func ms(since date: Date) -> Int { Int(Date().timeIntervalSince(date) * 1000) }
}

/// Progress samples delivered from the poller thread.
final class Samples: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [MigrationProgress] = []
    var add: @Sendable (MigrationProgress) -> Void { { [self] p in lock.withLock { all.append(p) } } }
    var count: Int { lock.withLock { all.count } }
    var last: MigrationProgress? { lock.withLock { all.last } }
}
