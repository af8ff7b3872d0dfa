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

    func validate() throws {
        guard (1...1024).contains(readConcurrency) else {
            throw ValidationError("--read-concurrency must be 1–1024, found \(readConcurrency)")
        }
    }
}
