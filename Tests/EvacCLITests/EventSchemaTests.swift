import EvacCore
import EvacFake
import EvacRun
import EvacSchema
import Foundation
import Testing

/// Every line `--output json` writes validates against schemas/events.schema.json, checked with
/// evac's own validator on the events of fake-hypervisor runs that produce every kind of event:
/// run start and end, checking/running/done/failed/blocked steps, progress, a notice from a
/// reconcile that finds a guest on two hosts, and a rollback (with its companion transitions).
struct EventSchemaTests {
    @Test func everyEmittedEventValidates() async throws {
        let schemaData = try Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/events.schema.json")))
        let validator = try JSONSchemaValidator(schemaData: schemaData)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-events-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        let observer = JSONLinesObserver(writer: LineWriter(handle))

        var fp = FakePlan(moves: [
            .init("app-1", from: "src-a", to: "dst-a"),
            .init("app-2", from: "src-b", to: "dst-b"),
            .init("db-1", from: "src-a", to: "dst-b", after: ["app-2"]),
            .init("web-1", from: "src-b", to: "dst-a"),
        ])
        fp.total = 2
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(20))
        world.setFault(guest: "app-2", .fail("internal error: qemu unexpectedly closed the monitor"))
        let journal = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { journal.close() }
        #expect(
            await Executor(plan: plan, hypervisor: world, journal: journal, observer: observer).apply().status
                == .partial)
        // The failed guest now also shows up on its target: the resume's reconcile says so.
        let app2 = fp.moves[1]
        world.place(
            Guest(
                uuid: app2.uuid, name: app2.guest, state: .running, persistent: true, memoryKiB: app2.memoryKiB,
                vcpus: 1), on: app2.target)
        world.setFault(guest: "app-2", nil)
        _ = await Executor(plan: plan, hypervisor: world, journal: journal, observer: observer).resume(retry: .all)
        _ = await Executor(plan: plan, hypervisor: world, journal: journal, observer: observer).rollback()
        try handle.close()

        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 20)
        var kinds = Set<String>()
        var states = Set<String>()
        for line in lines {
            let value = try JSONValue(json: String(line))
            let errors = validator.validate(value)
            #expect(errors.isEmpty, "\(line)\n\(errors.map(\.description).joined(separator: "\n"))")
            if case .string(let e)? = value["event"] { kinds.insert(e) }
            if case .string(let s)? = value["data"]?["to"] { states.insert(s) }
        }
        #expect(kinds == ["run-started", "step", "progress", "notice", "run-finished"])
        #expect(states.isSuperset(of: ["running", "done", "failed", "blocked", "rolled-back"]), "\(states)")
        // The validator does reject what breaks the schema.
        #expect(!validator.validate(try JSONValue(json: #"{"event":"step","at":"x","data":{}}"#)).isEmpty)
        #expect(
            !validator.validate(
                try JSONValue(
                    json: #"{"event":"notice","at":"2026-01-01T00:00:00.000Z","data":{"message":"m","extra":1}}"#)
            ).isEmpty)
    }
}
