import ArgumentParser

/// `--assume-bandwidth`, on the commands that estimate a plan's timeline (plan, apply).
struct EstimateOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Bandwidth assumed for the timeline estimate when the plan sets none (default: \(BandwidthArgument.assumedByDefault)).",
            valueName: "RATE"),
        transform: BandwidthArgument.init)
    var assumeBandwidth = BandwidthArgument.assumedByDefault
}
