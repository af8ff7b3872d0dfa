import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacLibvirt

/// Deadlines on a host that accepts connections and never answers (a socket of the test's own):
/// libvirt's open has no timeout and its calls wait in poll(…, -1), so without these evac waited
/// forever, printing nothing.
@Suite(.serialized) struct DeadlineTests {
    let quick = ConnectionSettings(connectTimeoutMs: 300, callTimeoutMs: 300)

    @Test func openGivesUpAtTheConnectTimeoutAndItsThreadEndsWithTheConnection() async throws {
        let host = try SilentHost()
        do {
            _ = try await LibvirtConnection.open(uri: host.uri, settings: quick)
            Issue.record("a connection to a host that never answers opened")
        } catch {
            #expect(error.kind == .noAnswer, "\(error)")
            #expect(error.operation == "virConnectOpenAuth")
            #expect(error.message.contains("no connection within 300ms"), "\(error)")
            #expect(error.uri == host.uri)
        }
        #expect(host.connectionsAccepted == 1)
        #expect(LibvirtRuntime.abandoned.current >= 1, "the open is still waiting on its own thread")
        // Hanging up ends the abandoned open (EOF): no thread and no connection is left behind.
        host.close()
        try await until { LibvirtRuntime.abandoned.current == 0 }
        #expect(LibvirtConnection.openCount(uri: host.uri) == 0)
    }

    @Test func inventoryNamesTheSilentHostAndReadsTheOthers() async throws {
        let host = try SilentHost()
        defer { host.close() }
        let results = await InventoryReader.read(
            hosts: [("frozen", host.uri), ("kvm-13a", Rack12.uri("kvm-13a"))], settings: quick)
        #expect((try? results["kvm-13a"]?.get()) != nil)
        guard case .failure(let e)? = results["frozen"] else {
            Issue.record("the silent host was read")
            return
        }
        #expect(e.kind == .unreachable)
        #expect(e.host == "frozen")
        #expect(e.uri == host.uri)
        #expect(
            e.message.hasPrefix("virConnectOpenAuth: no connection within 300ms (connect timeout)"),
            "names what timed out: \(e)")
        #expect(e.message.contains("300ms"), "\(e)")
    }

    @Test func adapterCallsGiveUpAndACancelEndsTheWait() async throws {
        let host = try SilentHost()
        defer { host.close() }
        let endpoint = HostEndpoint(name: "frozen", uri: host.uri)
        let error = await #expect(throws: HypervisorError.self) {
            try await LibvirtHypervisor(settings: quick).inspect(endpoint)
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains(host.uri) == true)

        // With a deadline far away, cancelling the waiting task ends the wait (a stopped run).
        let patient = LibvirtHypervisor(settings: ConnectionSettings(connectTimeoutMs: 600_000, callTimeoutMs: 600_000))
        let task = Task { () throws(HypervisorError) -> GuestPresence in
            try await patient.locate(guestUUID: "00000000-0000-4000-8000-000000000001", on: endpoint)
        }
        try await until { host.connectionsAccepted == 2 }
        task.cancel()
        switch await task.result {
        case .success: Issue.record("located a guest on a host that never answers")
        case .failure(let e): #expect((e as? HypervisorError)?.kind == .interrupted, "\(e)")
        }
    }

    /// Polls `condition` until it holds (60 s at most, then fails): for things that happen on
    /// another thread with no event to wait on. 10 s was once not enough in a loaded suite run
    /// (libvirt's own threads starve there); the bound only keeps a real hang from stalling.
    private func until(_ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(60)
        while !condition() {
            guard Date() < deadline else {
                Issue.record("condition not reached within 60 s")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
