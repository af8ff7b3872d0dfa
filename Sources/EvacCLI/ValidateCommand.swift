import ArgumentParser
import EvacCore
import Foundation

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check plan files without contacting any host.",
        discussion:
            "Prints every problem as FILE:LINE:COL with the source line and a fix. Exit codes: 0 valid (warnings allowed); 2 invalid."
    )

    @Argument(help: "Plan files (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var plans: [String]

    @Flag(name: .long, help: "Treat warnings as errors.")
    var strict = false

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(
        name: .long,
        help:
            "text: FILE:LINE:COL diagnostics with the source line; json: one document with each file's verdict and diagnostics."
    )
    var output: Format = .text

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if plans.isEmpty { throw ValidationError("give at least one plan file") }
    }

    func run() async throws {
        if output == .json {
            let files = plans.map { ValidationReport.check($0, strict: strict) }
            let report = ValidationReport(valid: files.allSatisfy(\.valid), files: files)
            Console.out(String(decoding: try PlanFile.canonicalEncoder().encode(report), as: UTF8.self) + "\n")
            if !report.valid { throw EvacExit.invalidInput }
            return
        }
        var failed = false
        for path in plans {
            do {
                let loaded = try PlanLoader.load(path: path)
                Console.error(DiagnosticRenderer.render(loaded.warnings, sources: [path: loaded.source]))
                if strict && !loaded.warnings.isEmpty {
                    failed = true
                    continue
                }
                Console.out(
                    "\(path): ok (\(loaded.spec.name): \(loaded.spec.sources.count) sources, \(loaded.spec.targetNames.count) targets)\n"
                )
            } catch {
                Console.error(error.message)
                failed = true
            }
        }
        if failed { throw EvacExit.invalidInput }
    }
}
