import ArgumentParser
import EvacCore

/// `--assume-bandwidth`, on the commands that estimate a plan's timeline (plan, apply).
struct EstimateOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Bandwidth assumed for the timeline estimate when the plan sets none (default: \(BandwidthArgument.assumedByDefault)).",
            valueName: "RATE"),
        transform: BandwidthArgument.init)
    var assumeBandwidth = BandwidthArgument.assumedByDefault

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Predict with the duration model as it was before the lab's measurements (configured memory, passes of rate × time): scripts/bench-convergence reports the error of both in one run.",
            visibility: .hidden))
    var baselineDurationModel = false

    /// The refinements of the duration model this command predicts with.
    var refinements: DurationModel.Refinements { baselineDurationModel ? .baseline : .measured }
}
