import ArgumentParser
import EvacLibvirt

/// `--read-concurrency`, on every command that reads the live inventory.
struct InventoryOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Hosts read from libvirt at once when reading the live inventory (1–1024; default \(InventoryReader.defaultConcurrency)). Each read is a few round trips per guest, so with far-away hosts more at once is faster.",
            valueName: "N"))
    var readConcurrency: Int = InventoryReader.defaultConcurrency

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: ArgumentHelp(
            "Sample each running guest's memory dirty rate through libvirt when reading the live inventory (default on; about one second more per host, hosts in parallel). The duration model uses it to predict pre-copy passes and non-convergence; --no-dirty-rate for a quick plan, which takes unmeasured guests as idle."
        ))
    var dirtyRate: Bool = true

    func validate() throws {
        guard (1...1024).contains(readConcurrency) else {
            throw ValidationError("--read-concurrency must be 1–1024, found \(readConcurrency)")
        }
    }
}
