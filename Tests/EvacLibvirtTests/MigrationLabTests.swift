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
