import EvacCore
import EvacYAML
import Testing

/// `migration.ladder` in the plan language: read into the spec, bad combinations refused at
/// the key the operator wrote (the golden corpus has the rendered FILE:LINE:COL diagnostics).
@Suite struct LadderPlanTests {
    static let base = """
        version: 1
        name: l
        hosts: { a: "qemu:///system", b: "qemu:///system" }
        sources: [a]
        targets: [ { pool: p, hosts: [b] } ]

        """

    func read(_ migration: String) throws -> (PlanSpec?, [Diagnostic]) {
        let root = try YAMLReader.parse(SourceFile(path: "l.yaml", text: Self.base + migration)).get()
        return PlanReader.read(root, file: "l.yaml")
    }

    @Test func theLadderIsRead() throws {
        let (spec, diagnostics) = try read(
            "migration: { ladder: { stall-passes: 3, max-downtime: 2s, downtime-steps: 4, post-copy: true, fallback: retry-paused } }"
        )
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(
            spec?.migration.ladder
                == ConvergenceLadder(
                    stallPasses: 3, maxDowntimeCapMs: 2000, downtimeSteps: 4, postCopy: true, fallback: .retryPaused))
        #expect(spec?.migration.postCopyEnabled == true, "the migration is started with post-copy enabled")
        let (plain, _) = try read("migration: { max-downtime: 1s }")
        #expect(plain?.migration.ladder == nil && plain?.migration.postCopyEnabled == false)
    }

    @Test func badCombinationsAreRefusedAtTheirKeys() throws {
        let (spec, diagnostics) = try read(
            """
            migration:
              max-downtime: 500ms
              parallel-connections: 2
              compression: zstd
              ladder: { max-downtime: 400ms, post-copy: true, fallback: fish }
            """)
        #expect(spec == nil)
        let found = diagnostics.map { "\($0.mark.line):\($0.mark.column) \($0.message)" }
        #expect(
            found.contains { $0.hasPrefix("10:13 ") && $0.contains("ladder.max-downtime 400ms is not above") },
            "\(found)")
        #expect(
            found.contains { $0.hasPrefix("10:34 ") && $0.contains("post-copy does not work with parallel") },
            "\(found)")
        #expect(found.contains { $0.hasPrefix("10:61 ") && $0.contains("fish") }, "\(found)")
        let (none, noRung) = try read("migration: { ladder: {} }")
        #expect(none == nil && noRung.contains { $0.message.contains("the ladder has no rung") })
        let (paused, notLive) = try read("migration: { mode: paused, ladder: { fallback: skip } }")
        #expect(paused == nil && notLive.contains { $0.message == "a convergence ladder needs mode: live" })
    }

    @Test func theOfflineFallbackNeedsTheConsent() throws {
        let (spec, diagnostics) = try read(
            "migration: { ladder: { fallback: offline, allow-restart: true, shutdown-timeout: 30s, force-off: true } }")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let l = spec?.migration.ladder
        #expect(l?.fallback == .offline && l?.restartAllowed == true && l?.forcesOff == true)
        #expect(l?.shutdownDeadlineMs == 30_000)
        // Without the consent: refused at the fallback's key (line 6 is the migration line).
        let (refused, why) = try read("migration: { ladder: { fallback: offline } }")
        #expect(refused == nil)
        let found = why.map { "\($0.mark.line):\($0.mark.column) \($0.message)" }
        #expect(
            found.contains { $0.hasPrefix("6:24 ") && $0.contains("the plan does not allow a restart") }, "\(found)")
        #expect(why.first?.help?.contains("allow-restart: true") == true)
        // A group that inherits the fallback but withdraws the consent is refused at its ladder.
        let (group, groupWhy) = try read(
            """
            migration:
              ladder: { fallback: offline, allow-restart: true }
              groups:
                - { name: db, guests: ["db-*"], ladder: { allow-restart: false } }
            """)
        #expect(group == nil)
        #expect(
            groupWhy.contains { $0.mark.line == 9 && $0.message.contains("does not allow a restart") },
            "\(groupWhy.map { "\($0.mark) \($0.message)" })")
        let (slow, slowWhy) = try read(
            "migration: { ladder: { fallback: offline, allow-restart: true, shutdown-timeout: 2h } }")
        #expect(slow == nil && slowWhy.contains { $0.message.contains("shutdown-timeout") }, "\(slowWhy)")
    }

    @Test func theOfflineFallbackRefusesCopiedDisks() throws {
        let (read, diagnostics) = try read(
            """
            migration:
              ladder: { fallback: offline, allow-restart: true }
              groups:
                - { name: web, guests: ["web-*"], ladder: { fallback: skip } }
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let spec = try #require(read)
        func placed(_ guest: String, copy: [String]) -> Placement {
            Placement(
                guest: guest, uuid: guest, source: "a", target: "b", memoryKiB: 1024, vcpus: 1, mode: .live,
                copyStorage: copy)
        }
        let refusals = spec.offlineFallbackRefusals(
            [placed("db-1", copy: ["vda"]), placed("db-2", copy: []), placed("web-1", copy: ["vda"])], file: "l.yaml")
        // db-1's local disk would be copied and its fallback is the plan's offline: refused at
        // migration.ladder (line 7); web-1 falls back to skip, db-2 has shared storage only.
        #expect(refusals.count == 1, "\(refusals)")
        #expect(refusals.first?.mark.line == 7 && refusals.first?.mark.column == 3)
        #expect(refusals.first?.message.contains("(db-1)") == true, "\(refusals)")
        #expect(refusals.first?.message.contains("VIR_MIGRATE_NON_SHARED_DISK") == true)
    }
}
