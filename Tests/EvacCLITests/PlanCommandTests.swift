import EvacCore
import EvacSchema
import Foundation
import XCTest

/// `evac plan` and `evac inventory` end to end through the built binary, reading the demo
/// fleet through libvirt's test driver.
final class PlanCommandTests: XCTestCase {
    let demo = "plans/demo/rack12-drain.yaml"

    /// Golden files must not depend on where the repository is checked out.
    func normalized(_ s: String) -> String {
        var t = s.replacingOccurrences(of: Repo.root.path, with: "<repo>")
        for key in ["planHash", "inventoryFingerprint"] {
            t = t.replacingOccurrences(
                of: "\"\(key)\" : \"[0-9a-f]{64}\"", with: "\"\(key)\" : \"<sha256>\"", options: .regularExpression)
        }
        t = t.replacingOccurrences(
            of: #"\(inventory [0-9a-f]{12}, plan [0-9a-f]{12}\)"#, with: "(inventory <sha>, plan <sha>)",
            options: .regularExpression)
        return t
    }

    func testTextReport() throws {
        let r = try runEvac(["plan", demo])
        XCTAssertEqual(r.status, 1, "the demo fleet has guests nothing can take: exit 1; stderr: \(r.stderr)")
        assertGolden(normalized(r.stdout), "plan/demo.txt")
        assertGolden(normalized(r.stderr), "plan/demo.stderr")
        XCTAssertTrue(r.stdout.contains("bigmem-01"), "the 64 GiB guest is reported")
    }

    func testJSONPlanFileIsDeterministicAndMatchesSchema() throws {
        let a = try runEvac(["plan", demo, "--output", "json"])
        let b = try runEvac(["plan", demo, "--output", "json"])
        XCTAssertEqual(a.status, 1)
        XCTAssertEqual(a.stdout, b.stdout, "same inventory and plan give the same bytes")
        assertGolden(normalized(a.stdout), "plan/demo.planfile.json")

        let planFile = try JSONDecoder().decode(PlanFile.self, from: Data(a.stdout.utf8))
        XCTAssertEqual(planFile.planHash, planFile.computedHash)
        XCTAssertEqual(planFile.evacVersion, EvacVersion.current)
        let schema = try JSONSchemaValidator(
            schemaData: Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/planfile.schema.json"))))
        XCTAssertEqual(schema.validate(try JSONValue(data: Data(a.stdout.utf8))), [])
    }

    func testDotOutput() throws {
        let r = try runEvac(["plan", demo, "--output", "dot"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.hasPrefix("digraph \"rack12-demo\" {"))
        assertGolden(normalized(r.stdout), "plan/demo.dot")
    }

    func testSnapshotPlansExactlyLikeLive() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-snap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let snap = dir.appendingPathComponent("snapshot.json").path
        let inv = try runEvac(["inventory", demo, "-o", snap])
        XCTAssertEqual(inv.status, 0, inv.stderr)
        let schema = try JSONSchemaValidator(
            schemaData: Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/inventory.schema.json"))))
        XCTAssertEqual(schema.validate(try JSONValue(data: Data(contentsOf: URL(fileURLWithPath: snap)))), [])

        let live = try runEvac(["plan", demo, "--output", "json"])
        let offline = try runEvac(["plan", demo, "--output", "json", "--inventory", snap])
        XCTAssertEqual(offline.status, live.status)
        XCTAssertEqual(offline.stdout, live.stdout, "planning from a snapshot gives the same bytes as live")
        let liveText = try runEvac(["plan", demo])
        let offlineText = try runEvac(["plan", demo, "--inventory", snap])
        XCTAssertEqual(offlineText.stdout, liveText.stdout)
    }

    /// A guest whose measured dirty rate outruns the plan's bandwidth is named with the remedy,
    /// takes longer in the estimate, and the plan file's nodes carry the predicted times.
    func testDirtyRateInTheSnapshotFeedsTheDurationModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-dirty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let snap = dir.appendingPathComponent("snapshot.json").path
        XCTAssertEqual(try runEvac(["inventory", demo, "-o", snap]).status, 0)
        let idle = try runEvac(["plan", demo, "--output", "json", "--inventory", snap])
        // db-01 (16 GiB) dirties 600 MiB/s; the plan caps migrations at 512 MiB/s.
        var root = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: snap))) as? [String: Any])
        var hosts = try XCTUnwrap(root["hosts"] as? [[String: Any]])
        for h in hosts.indices {
            var guests = try XCTUnwrap(hosts[h]["guests"] as? [[String: Any]])
            for g in guests.indices where guests[g]["name"] as? String == "db-01" {
                guests[g]["dirtyRateBytesPerSec"] = 600 << 20
            }
            hosts[h]["guests"] = guests
        }
        root["hosts"] = hosts
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: snap))
        let schema = try JSONSchemaValidator(
            schemaData: Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/inventory.schema.json"))))
        XCTAssertEqual(schema.validate(try JSONValue(data: Data(contentsOf: URL(fileURLWithPath: snap)))), [])

        let text = try runEvac(["plan", demo, "--inventory", snap])
        XCTAssertTrue(text.stdout.contains("Predicted not to converge by pre-copy (1;"), text.stdout)
        // The demo plan enables auto-converge: that is what brings it across.
        XCTAssertTrue(
            text.stdout.contains(
                "#1 db-01 (16.0 GiB, dirties 600.0 MiB/s): auto-converge throttles its vCPUs until it converges"),
            text.stdout)
        XCTAssertTrue(text.stdout.contains("dirty rates: measured for 1 of 4 live migrations"), text.stdout)

        let busy = try runEvac(["plan", demo, "--output", "json", "--inventory", snap])
        let a = try JSONDecoder().decode(PlanFile.self, from: Data(idle.stdout.utf8))
        let b = try JSONDecoder().decode(PlanFile.self, from: Data(busy.stdout.utf8))
        XCTAssertEqual(a.planHash, b.planHash, "a dirty rate is momentary: no decision changed")
        XCTAssertEqual(b.planHash, b.computedHash)
        XCTAssertGreaterThan(b.estimatedDurationMs, a.estimatedDurationMs)
        for f in [a, b] {
            for n in f.graph.nodes {
                let start = try XCTUnwrap(n.predictedStartMs)
                let d = try XCTUnwrap(n.predictedDurationMs)
                XCTAssertLessThanOrEqual(
                    start + d, f.estimatedDurationMs + 0.001, "the makespan is when the last one ends")
            }
            XCTAssertEqual(
                f.graph.nodes.map { $0.predictedStartMs! + $0.predictedDurationMs! }.max()!, f.estimatedDurationMs,
                accuracy: 0.001)
        }
        let db = try XCTUnwrap(b.graph.nodes.first { $0.guest == "db-01" })
        let dbIdle = try XCTUnwrap(a.graph.nodes.first { $0.guest == "db-01" })
        XCTAssertGreaterThan(db.predictedDurationMs!, dbIdle.predictedDurationMs!)
    }

    /// A window: the report names what the estimate ends after it; a bad window is a
    /// diagnostic at FILE:LINE:COL.
    func testMaintenanceWindowInTheReportAndItsErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-window-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOfFile: Repo.path(demo), encoding: .utf8)
            .replacingOccurrences(of: "{plan-dir}", with: Repo.path("plans/demo").dropFirst())
        let windowed = dir.appendingPathComponent("window.yaml").path
        try (text + "\nwindow: { duration: 1m }\n").write(toFile: windowed, atomically: true, encoding: .utf8)
        let r = try runEvac(["plan", windowed])
        XCTAssertTrue(r.stdout.contains("Maintenance window: 1m from the start of evac apply"), r.stdout)
        XCTAssertTrue(r.stdout.contains("migrations are predicted to end inside it;"), r.stdout)
        XCTAssertTrue(r.stdout.contains("#2 db-02: predicted +44s to +1m18s"), r.stdout)
        let json = try runEvac(["plan", windowed, "--output", "json"])
        let file = try JSONDecoder().decode(PlanFile.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(file.window, MaintenanceWindow(durationMs: 60_000))
        let schema = try JSONSchemaValidator(
            schemaData: Data(contentsOf: URL(fileURLWithPath: Repo.path("schemas/planfile.schema.json"))))
        XCTAssertEqual(schema.validate(try JSONValue(data: Data(json.stdout.utf8))), [])
        // The plan page marks the plan's window without --window, and not without a window.
        XCTAssertTrue(try runEvac(["plan", windowed, "--output", "html"]).stdout.contains("id=\"gantt-window-end\""))
        XCTAssertFalse(try runEvac(["plan", demo, "--output", "html"]).stdout.contains("id=\"gantt-window-end\""))

        let lines = text.components(separatedBy: "\n").count
        let bad = dir.appendingPathComponent("bad-window.yaml").path
        try (text + "\nwindow: { ends: tomorrow }\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let v = try runEvac(["validate", bad])
        XCTAssertNotEqual(v.status, 0)
        XCTAssertTrue(
            v.stderr.contains("bad-window.yaml:\(lines + 1):17: error: window.ends is not a time with a zone"), v.stderr
        )
        XCTAssertTrue(v.stderr.contains("RFC 3339"), v.stderr)
    }

    func testUnreachableTargetIsLeftOutAndSourceIsAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-unreach-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOfFile: Repo.path(demo), encoding: .utf8)
            .replacingOccurrences(of: "{plan-dir}", with: Repo.path("plans/demo").dropFirst())
        let target = dir.appendingPathComponent("target-down.yaml").path
        try text.replacingOccurrences(of: "hosts/kvm-13b.xml", with: "hosts/missing-13b.xml").write(
            toFile: target, atomically: true, encoding: .utf8)
        let t = try runEvac(["plan", target])
        XCTAssertEqual(t.status, 1)
        XCTAssertTrue(t.stderr.contains("warning: target host 'kvm-13b' is unreachable at test:///"), t.stderr)
        XCTAssertTrue(t.stderr.contains("missing-13b.xml"), t.stderr)
        XCTAssertFalse(t.stdout.contains("→ kvm-13b"), "nothing is placed on an unreachable target")

        let source = dir.appendingPathComponent("source-down.yaml").path
        try text.replacingOccurrences(of: "hosts/kvm-12a.xml", with: "hosts/missing-12a.xml").write(
            toFile: source, atomically: true, encoding: .utf8)
        let s = try runEvac(["plan", source])
        XCTAssertEqual(s.status, 3, s.stderr)
        XCTAssertNotNil(
            s.stderr.range(
                of:
                    #"source-down\.yaml:\d+:\d+: error: source host 'kvm-12a' is unreachable at test:///.*missing-12a\.xml"#,
                options: .regularExpression), s.stderr)
        XCTAssertEqual(s.stdout, "")
    }

    func testValidateAcceptsShippedPlans() throws {
        let r = try runEvac([
            "validate", "plans/maintenance-drain.yaml", "plans/capacity-report.yaml", "plans/rerun-after-failure.yaml",
            demo,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 4)
    }

    func testMissingPlanFile() throws {
        let r = try runEvac(["plan", "no/such/plan.yaml"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "no/such/plan.yaml: error: plan file does not exist\n")
    }
}
