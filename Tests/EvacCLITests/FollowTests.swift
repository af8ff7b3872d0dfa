import EvacCore
import EvacFake
import EvacSchema
import Foundation
import Testing

@testable import EvacRun

/// `evac status --follow` in another process shows a run this test process makes (the executor
/// on the fake hypervisor, journaled in SQLite), ends when the run ends, and exits with the
/// run's code — without taking the journal's lock (the run holds it throughout).
struct FollowTests {
    final class Child {
        let process = Process()
        let out: URL
        init(_ args: [String], out: URL) throws {
            self.out = out
            FileManager.default.createFile(atPath: out.path, contents: nil)
            process.executableURL = Repo.evac
            process.arguments = args
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = FileHandle.nullDevice
            try process.run()
        }
        /// Waits for the exit (at most `timeout` s; then kills it) and returns status and output.
        func finish(timeout: TimeInterval = 60) async -> (Int32, String) {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return (-1, "timed out")
            }
            return (process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "")
        }
    }

    @Test func followersInOtherProcessesShowTheRunAndExitWithItsCode() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-follow-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var fp = FakePlan(moves: (1...6).map { FakePlan.Move("g\($0)", from: "s\($0 % 2)", to: "t\($0 % 3)") })
        fp.total = 1
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(250))
        world.setFault(guest: "g4", .fail("boom"))
        let journal = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        let run = Task { await Executor(plan: plan, hypervisor: world, journal: journal).apply() }
        // Attach once the run has begun (its first commit), well before its ~1.3 s are over.
        while (try? JournalStatus.read(path: journal.path))?.runs.isEmpty ?? true {
            try await Task.sleep(for: .milliseconds(10))
        }
        let plain = try Child(
            ["status", "--follow", journal.path, "--output", "plain"], out: dir.appendingPathComponent("plain.out"))
        let json = try Child(
            ["status", "--follow", journal.path, "--output", "json"], out: dir.appendingPathComponent("json.out"))
        let result = await run.value
        let finishedAt = Date()
        journal.close()
        #expect(result.status == .partial)
        #expect(plain.process.isRunning || plain.process.terminationStatus == 1)

        let (plainCode, plainOut) = await plain.finish()
        #expect(plainCode == 1, "the run's exit code (partial): \(plainOut)")
        for m in fp.moves where m.guest != "g4" {
            #expect(plainOut.contains("\(m.guest) \(m.source) → \(m.target) done"), "\(m.guest): \(plainOut)")
        }
        #expect(plainOut.contains("g4 s0 → t1 failed: migration failed: boom"))
        #expect(plainOut.contains("apply finished: partial — 5 done, 1 failed"))
        // Attached mid-run: its first line was written before the run ended.
        let first = plainOut.split(separator: "\n").first.map(String.init) ?? ""
        let firstAt = JournalClock.date(String(first.prefix(24))) ?? .distantFuture
        #expect(firstAt < finishedAt, "follower attached before the end: \(first)")

        let (jsonCode, jsonOut) = await json.finish()
        #expect(jsonCode == 1)
        let validator = try JSONSchemaValidator(
            schemaData: Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/events.schema.json"))))
        let lines = jsonOut.split(separator: "\n")
        #expect(lines.first?.contains("\"event\":\"run-started\"") == true)
        #expect(lines.last?.contains("\"event\":\"run-finished\"") == true)
        for line in lines { #expect(validator.validate(try JSONValue(json: String(line))).isEmpty, "\(line)") }
    }

    /// A run whose process is gone without writing its end is reported, not waited on forever.
    @Test func aRunWithoutAnEndAndWithoutAProcessIsReported() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-follow-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try FakePlan(moves: [.init("g1", from: "a", to: "b")]).planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        // The holder recorded in the lock file is a process that no longer exists.
        let gone = JournalLock.Holder(
            pid: 999_999, host: ProcessInfo.processInfo.hostName, since: "x", command: "evac apply p.yaml")
        let journal = try SQLiteJournal(path: path, plan: plan, holder: gone)
        try await journal.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash, planName: plan.planName,
                    started: "2026-01-01T00:00:00.000Z", command: "evac apply p.yaml"),
                insertSteps: [StepRecord(kind: .apply, id: 1, guest: "g1", uuid: "u", source: "a", target: "b")]))
        journal.close()
        let follower = try Child(
            ["status", "--follow", path, "--output", "plain"], out: dir.appendingPathComponent("out"))
        let (code, _) = await follower.finish()
        #expect(code == 4, "interrupted: resume continues")
    }
}
