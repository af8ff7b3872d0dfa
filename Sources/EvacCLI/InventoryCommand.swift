import ArgumentParser
import EvacCore
import Foundation

struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Read the live inventory of a plan's sources and targets from libvirt and save it as JSON.",
        discussion: """
            The snapshot (schemas/inventory.schema.json) lets `evac plan PLAN --inventory FILE` plan offline \
            with exactly the result it would have given live. Exit codes: 0 read; 2 invalid plan; 3 a source unreachable; 4 interrupted by a signal.
            """)

    @Argument(help: "The plan file (YAML) naming the hosts.", completion: .file(extensions: ["yaml", "yml"]))
    var plan: String

    @Option(
        name: [.customShort("o"), .customLong("out")],
        help: "Write the snapshot to this file instead of standard output.",
        completion: .file(extensions: ["json"]))
    var out: String?

    @OptionGroup var reading: InventoryOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    func run() async throws {
        let loaded: LoadedPlan
        loaded = try PlanLoader.load(path: plan)
        let gathered = await InventoryGatherer.live(
            loaded.spec, file: loaded.source.path,
            settings: connection.settings(loaded.spec.connection),
            concurrency: reading.readConcurrency)
        Console.error(DiagnosticRenderer.render(gathered.diagnostics, sources: [loaded.source.path: loaded.source]))
        if gathered.sourceUnreachable { throw EvacExit.cannotStart }
        try Console.write(gathered.inventory.encodedSnapshot(), to: out)
        if let out {
            let guests = gathered.inventory.hosts.reduce(0) { $0 + $1.guests.count }
            Console.error(
                "wrote \(out): \(gathered.inventory.hosts.count) hosts, \(guests) guests, fingerprint \(gathered.inventory.fingerprint.prefix(12))\n"
            )
        }
    }
}
