import ArgumentParser
import EvacCore
import EvacRun
import Foundation

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a journaled run after a crash, a signal or partial failure.",
        discussion: """
            First reconciles the journal with the hosts: each guest not recorded as done is looked \
            up by UUID on its source and target (one that landed counts as done; one still on its \
            source is retried; one on both or on neither is reported and left alone). Then runs what \
            is pending and retries failed and blocked steps, pre-checks included. No guest is \
            migrated twice. Once a rollback of the run has begun, resume continues the rollback \
            (never the apply); after a complete rollback there is nothing to resume (exit 3). \
            Exit codes as for apply.

            --bandwidth and --timeout replace the plan's migration bandwidth cap and timeout for \
            this resume only (e.g. after a migration was aborted under a cap that was too tight). \
            The journal still belongs to the same plan; the override is not stored in it, so give \
            it again to a later resume.
            """)

    @Argument(
        help: "The plan (YAML: its run that is not over), saved plan file (JSON) or journal (.journal.sqlite).",
        completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which failed or blocked steps to retry: all, none, or guest names separated by commas.",
            valueName: "all|none|GUEST,…"),
        transform: RetryArgument.init)
    var retry = RetryArgument.all

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Bandwidth cap for the migrations of this resume instead of the plan's (e.g. 512MiB/s), or 'none' for no cap.",
            valueName: "RATE|none"),
        transform: { text throws(ValidationError) in try Override(text, Units.bandwidth) })
    var bandwidth: Override<UInt64>?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Migration timeout for this resume instead of the plan's: fixed (e.g. 10m) or per GiB of guest memory (e.g. 2m/GiB), or 'none'.",
            valueName: "DURATION|none"),
        transform: { text throws(ValidationError) in try Override(text, Units.timeout) })
    var timeout: Override<MigrationOptions.Timeout>?

    @OptionGroup var run: RunOptions

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LogOptions

    /// A value given on the command line for this run instead of the plan's, or `none`.
    /// Parsed once, by the plan language's own grammar (bounds included).
    struct Override<Value> {
        var value: Value?
        init(_ text: String, _ parse: (String) -> Result<Value, Units.Failure>) throws(ValidationError) {
            if text == "none" {
                value = nil
                return
            }
            switch parse(text) {
            case .success(let v): value = v
            case .failure(let f): throw ValidationError("\(f.message) (\(f.help))")
            }
        }
    }

    /// The plan's migration options with --bandwidth/--timeout applied.
    static func overriding(
        _ options: MigrationOptions, bandwidth: Override<UInt64>?,
        timeout: Override<MigrationOptions.Timeout>?
    ) -> MigrationOptions {
        var o = options
        if let bandwidth { o.bandwidthBytesPerSec = bandwidth.value }
        if let timeout { o.timeout = timeout.value }
        return o
    }

    func run() async throws {
        if let url = run.coordinatorURL {
            let (b, t) = (bandwidth, timeout)
            return try await CoordinatedRun.continueRun(
                plan, .resume(retry.selection), url: url, run: run, connection: connection
            ) { options in
                Self.overriding(options, bandwidth: b, timeout: t)
            }
        }
        // The journal is opened with the plan as stored (its hash is checked); the override only
        // changes the migration options the executor uses for this run.
        let (executor, runLock) = try JournaledRun.open(plan, force: force, run: run, connection: connection) {
            options in
            Self.overriding(options, bandwidth: bandwidth, timeout: timeout)
        }
        defer {
            executor.journal.close()
            runLock.release()
        }
        if case .guests(let names) = retry.selection {
            let known = Set(executor.plan.graph.nodes.map(\.guest))
            let unknown = names.subtracting(known).sorted()
            if !unknown.isEmpty {
                Console.error(
                    "error: --retry names guests that are not in the plan: \(unknown.joined(separator: ", "))\n")
                throw EvacExit.invalidInput
            }
        }
        let sel = retry.selection
        try await RunExit.run(executor.executor) { await $0.resume(retry: sel) }
    }
}
