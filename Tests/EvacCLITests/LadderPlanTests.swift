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
}
