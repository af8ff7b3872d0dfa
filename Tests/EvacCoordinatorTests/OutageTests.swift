import EvacCoordinator
import EvacCore
import EvacRun
import Foundation
import Testing

/// The database restarted, crashed or unreachable mid-run, each on a server of the test's own.
@Suite(.serialized, .timeLimit(.minutes(3))) struct OutageTests {
    @Test func aCommitWaitsThroughARestartAndNothingIsLost() async throws {
        let server = try await PostgresServer(tag: "restart")
        defer { server.down() }
        let t = tag()
        let plan = try testPlan("restart", [("g1", "src", "dst", 64), ("g2", "src", "dst", 64)], tag: t)
        let notices = Notices()
        let j = try await server.coordinator(notices: notices).journal(for: plan)
        try await begin(j, plan)
        let steps = try await j.steps(kind: .apply)
        try await server.stop()
        // The step's end is written while the database is down: the commit waits for it.
        let writing = Task {
            try await j.commit(JournalBatch(runID: 1, transitions: [transition(steps[0], to: .failed)]))
        }
        try await Task.sleep(for: .seconds(2))
        try await server.start()
        try await writing.value
        #expect(notices.all.contains { $0.contains("is not answering") && $0.contains("no new migration starts") })
        #expect(notices.all.contains { $0.contains("answers again") })
        // And the run goes on on the same journal.
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(steps[1], to: .failed)]))
        let read = try await server.coordinator().journal(for: plan).steps(kind: .apply)
        #expect(read.map(\.state) == [.failed, .failed])
        j.close()
    }

    @Test func aCommittedBatchSurvivesACrashOfTheServer() async throws {
        let server = try await PostgresServer(tag: "crash")
        defer { server.down() }
        let t = tag()
        let plan = try testPlan("crash", [("g1", "src", "dst", 64)], tag: t)
        let j = try await server.coordinator().journal(for: plan)
        try await begin(j, plan)
        let s = try await j.steps(kind: .apply)[0]
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(s, to: .blocked, "durable")]))
        // Immediate shutdown: no checkpoint; the server recovers from its WAL at start.
        try await server.crash()
        try await server.start()
        let read = try await server.coordinator().journal(for: plan).steps(kind: .apply)
        #expect(read.first?.state == .blocked)
        #expect(read.first?.reason == nil)
        j.close()
    }

    @Test func anUnansweringServerEndsTheWaitWithAClearMessage() async throws {
        let server = try await PostgresServer(tag: "frozen")
        defer { server.down() }
        let t = tag()
        let plan = try testPlan("frozen", [("g1", "src", "dst", 64)], tag: t)
        var timing = CoordinatorTiming.testing
        timing.attempt = .seconds(1)
        timing.outage = .seconds(3)
        let j = try await server.coordinator(timing: timing).journal(for: plan)
        try await begin(j, plan)
        let s = try await j.steps(kind: .apply)[0]
        // SIGSTOP: the sockets stay open and nothing answers, as behind a partition.
        try await server.freeze()
        await #expect {
            try await j.commit(JournalBatch(runID: 1, transitions: [transition(s, to: .failed)]))
        } throws: { e in
            guard case .unreachable(let named, _, let why) = e as? CoordinatorError else { return false }
            // The last attempt's error: the frozen connection's deadline, or a new one's.
            return named == server.url.server
                && (why.contains("no answer within 1s") || why.contains("Connect timeout (1 s)"))
        }
        // A journal that could not write is not trusted again: the executor starts nothing more.
        await #expect(throws: CoordinatorError.self) {
            try await j.commit(JournalBatch(runID: 1, transitions: [transition(s, to: .failed)]))
        }
        try await server.thaw()
        j.close()
    }
}

@Suite struct CoordinatorURLTests {
    @Test func parsesWhatAnOperatorWrites() throws {
        let u = try CoordinatorURL.parse("postgresql://evac@db.example:5433/fleet?sslmode=verify-full").get()
        #expect(u.user == "evac")
        #expect(u.host == "db.example")
        #expect(u.port == 5433)
        #expect(u.database == "fleet")
        #expect(u.tls == .require)
        let d = try CoordinatorURL.parse("postgres://evac@db/evac").get()
        #expect(d.port == 5432)
        #expect(d.tls == .prefer)
        let s = try CoordinatorURL.parse("postgresql://evac@/evac?host=/run/postgresql").get()
        #expect(s.socketDirectory == "/run/postgresql")
    }

    @Test func refusesAPasswordInTheURLWithoutEchoingIt() {
        for text in ["postgresql://evac:hunter2@db/evac", "postgresql://evac@db/evac?password=hunter2"] {
            guard case .failure(let e) = CoordinatorURL.parse(text) else {
                Issue.record("accepted \(text)")
                continue
            }
            #expect(e.description.contains("PGPASSWORD"))
            #expect(!e.description.contains("hunter2") || text.contains("?password"), "\(e)")
        }
        #expect(throws: (any Error).self) {
            try CoordinatorURL.parse("postgresql://evac@db/evac?sslmode=require").get()
        }
        #expect(throws: (any Error).self) { try CoordinatorURL.parse("mysql://evac@db/evac").get() }
        #expect(throws: (any Error).self) { try CoordinatorURL.parse("postgresql://evac@db:99999/evac").get() }
    }

    @Test func readsThePasswordFromPGPASSWORDThenAPrivatePasswordFile() throws {
        let url = try CoordinatorURL.parse("postgresql://evac@db.example:5432/evac").get()
        #expect(PasswordSource.lookup(url, environment: ["PGPASSWORD": "a"]).password == "a")
        let dir = NSTemporaryDirectory() + "evac-pgpass-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/pgpass"
        try "other:*:*:*:x\n# comment\ndb.example:5432:evac:evac:se\\:cret\n*:*:*:*:fallback\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let open = PasswordSource.lookup(url, environment: ["PGPASSFILE": file])
        #expect(open.password == nil, "a file others can read is not used, as libpq does")
        #expect(open.warning?.contains("chmod 0600") == true)
        chmod(file, 0o600)
        #expect(PasswordSource.lookup(url, environment: ["PGPASSFILE": file]).password == "se:cret")
    }
}
