import Foundation
import Testing

/// Option values are read once, by the option (`ArgumentValues.swift`): a bad one is refused
/// by argument-parser naming the option and the value, with the plan language's reason, and
/// exits 2; a good one reaches the command.
struct ArgumentValueTests {
    static let plan = "plans/demo/rack12-drain.yaml"

    @Test(arguments: [
        (
            ["plan", plan, "--assume-bandwidth", "1Gbit/s"], "'1Gbit/s' is invalid for '--assume-bandwidth <RATE>'",
            "in bits"
        ),
        (["apply", plan, "--assume-bandwidth", "fast"], "'fast' is invalid for '--assume-bandwidth <RATE>'", "/s"),
        (["plan", plan, "--window", "soon"], "'soon' is invalid for '--window", "duration"),
        (["plan", plan, "--connect-timeout", "5h"], "'5h' is invalid for '--connect-timeout", "100ms and 1h"),
        (["inventory", plan, "--call-timeout", "10 parsecs"], "is invalid for '--call-timeout", "duration"),
        (["resume", plan, "--retry", "a,,b"], "'a,,b' is invalid for '--retry", "guest names separated by commas"),
    ])
    func aBadValueIsRefusedByItsOptionWithTheReason(_ args: [String], _ refusal: String, _ reason: String) throws {
        let r = try runEvac(args)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains(refusal), "\(r.stderr)")
        #expect(r.stderr.contains(reason), "\(r.stderr)")
    }

    @Test func goodValuesReachTheCommand() throws {
        // The demo plan leaves guests unplaceable (exit 1): it was placed, so every value was read.
        let r = try runEvac([
            "plan", Self.plan, "--assume-bandwidth", "512MiB/s", "--window", "2h", "--connect-timeout", "300ms",
            "--call-timeout", "20s",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        let help = try runEvac(["plan", "--help"])
        #expect(help.stdout.contains("(default: 1GiB/s)"), "\(help.stdout)")
    }
}
