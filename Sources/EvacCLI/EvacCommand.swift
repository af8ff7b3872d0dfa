import ArgumentParser
import EvacCore

public struct EvacCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evac",
        abstract: "Plan and run batch evacuations of libvirt/KVM hosts.",
        discussion: """
        Exit codes: 0 all placed / all done; 1 some guests unplaceable / some migrations failed \
        or blocked; 2 invalid input; 3 cannot start (unreachable source, journal locked, stale plan); \
        4 interrupted; 5 journal write failed.
        """,
        version: EvacVersion.current,
        subcommands: [PlanCommand.self, InventoryCommand.self, ValidateCommand.self,
                      ApplyCommand.self, ResumeCommand.self, RollbackCommand.self, StatusCommand.self])

    public init() {}
}
