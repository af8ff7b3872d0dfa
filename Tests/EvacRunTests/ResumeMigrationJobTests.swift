import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// kill -9 of evac during a peer-to-peer migration: the source daemon goes on with it and reports
/// it as the guest's job. A resume that starts while that job runs waits for it to end, then
/// reconciles from where the guest is (done on the target, retried from the source), and says
/// "needs attention" with how long it waited when the job outlasts the wait.
@Suite struct ResumeMigrationJobTests {
    typealias Setup = RollbackAfterCrashTests.Setup
    static let job = GuestJob(operation: .outgoingMigration, elapsedMs: 4000)

    /// A journal whose apply step is running and a world where g runs on s1 (and, `onTarget`,
    /// also runs on t1: the switch-over as a look over ssh can catch it) with a migration job on s1.
    static func inFlight(onTarget: Bool) async throws -> Setup {
        let s = try await Setup(apply: .running)
        if onTarget { s.put(.running, on: "t1") }
        s.world.setJob(job, uuid: s.uuid, on: "s1")
        return s
    }

    static func resume(_ s: Setup, _ rec: Recorder, wait: Duration) async throws -> RunResult {
        let (e, j) = try s.executor(rec, wait: wait)
        defer { j.close() }
        return await e.resume()
    }

    /// The job ends once the resume has said it waits for it (never before, whatever the load),
    /// a moment later; `landed` says where the guest is by then.
    static func endJob(_ s: Setup, _ rec: Recorder, landed: Bool) -> Task<Void, any Error> {
        Task {
            for _ in 0..<6000 where !rec.notices.contains(where: { $0.contains("is still in progress") }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(300))
            if landed { s.moveToTarget() } else { s.world.remove(uuid: s.uuid, from: "t1") }
            s.world.setJob(nil, uuid: s.uuid, on: "s1")
        }
    }

    @Test(
        "the migration lands after the resume started: it waits for the job, then the step is done, not migrated again",
        arguments: [false, true])
    func landsLater(onTarget: Bool) async throws {
        let s = try await Self.inFlight(onTarget: onTarget)
        let rec = Recorder()
        let ending = Self.endJob(s, rec, landed: true)
        let r = try await Self.resume(s, rec, wait: .seconds(30))
        try await ending.value
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["t1": .running])
        #expect(s.migrations == 0, "the migration the killed evac started is the only one")
        #expect(s.world.attemptCounts["g"] == nil, "resume did not start a migration")
        let events = try JournalStatus.events(path: s.path, kind: .apply, id: 1).map(\.message)
        #expect(events.contains("reconcile: completed after the crash (found on t1)"), "\(events)")
        #expect(
            rec.notices.contains {
                $0.hasPrefix("g: a migration to t1 is still in progress (s1 reports an outgoing migration job")
                    && $0.hasSuffix("waiting up to 30 s for it to end")
            }, "\(rec.notices)")
    }

    @Test("the migration fails after the resume started: the guest stays on its source and is retried")
    func failsLater() async throws {
        let s = try await Self.inFlight(onTarget: false)
        let rec = Recorder()
        let ending = Self.endJob(s, rec, landed: false)
        let r = try await Self.resume(s, rec, wait: .seconds(30))
        try await ending.value
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["t1": .running])
        #expect(s.migrations == 1, "the retry")
        #expect(try s.status.apply.map(\.attempt) == [2])
        let events = try JournalStatus.events(path: s.path, kind: .apply, id: 1).map(\.message)
        #expect(
            events.contains("reconcile: interrupted: found on s1, not on t1; will be retried"), "\(events)")
    }

    @Test("the job outlasts the wait: needs attention, saying it waited and for how long; nothing touched")
    func outlastsTheWait() async throws {
        let s = try await Self.inFlight(onTarget: true)
        let rec = Recorder()
        let r = try await Self.resume(s, rec, wait: .seconds(2))
        #expect(r.status == .partial, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running, "t1": .running], "nothing touched")
        #expect(s.migrations == 0)
        let step = try #require(try s.status.apply.first)
        #expect(step.state == .failed)
        let reason = step.reason ?? ""
        #expect(reason.contains("s1 still reports an outgoing migration job (running 4 s) for it"), "\(reason)")
        // How long it waited is measured: at least the 2 s bound (more on a loaded machine),
        // and far below the 600 s default it would wait without the bound.
        let waited = Self.waitedSeconds(reason)
        #expect(waited.map { (2..<600).contains($0) } == true, "\(reason)")
        #expect(reason.contains(" s for the migration to end"), "\(reason)")
        #expect(
            reason.hasSuffix(
                "needs attention; evac will not touch it while that job runs (run evac resume once it has ended)"),
            "\(reason)")
        #expect(s.world.attemptCounts["g"] == nil, "not retried while libvirt migrates it")
        #expect(rec.notices.contains { Self.waitedSeconds($0) == waited }, "\(rec.notices)")
    }

    /// N of "after evac waited N s" in `text`, nil when it is not there.
    static func waitedSeconds(_ text: String) -> Int? {
        guard let r = text.range(of: "after evac waited ") else { return nil }
        return Int(text[r.upperBound...].prefix { $0.isNumber })
    }

    @Test("a job that is not a migration (a backup, a dump) is not waited for")
    func otherJobIsNotWaitedFor() async throws {
        let s = try await Setup(apply: .running)
        s.world.setJob(GuestJob(operation: .other), uuid: s.uuid, on: "s1")
        let rec = Recorder()
        let r = try await Self.resume(s, rec, wait: .seconds(30))
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(!rec.notices.contains { $0.contains("still in progress") }, "\(rec.notices)")
        #expect(s.at == ["t1": .running])
    }
}
