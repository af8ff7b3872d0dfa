import Foundation
import Testing

/// `evac validate --output json` reports the same diagnostics as the text output, as values.
struct ValidateJSONTests {
    struct Report: Decodable {
        struct File: Decodable {
            var file: String
            var valid: Bool
            var plan: String?
            var diagnostics: [Item]
        }
        struct Item: Decodable {
            var severity: String
            var line: Int
            var column: Int
            var message: String
            var help: String?
        }
        var valid: Bool
        var files: [File]
    }

    @Test func diagnosticsAsJSONMatchTheText() throws {
        let bad = "Tests/EvacCLITests/Golden/invalid/unknown-host.yaml"
        let good = "plans/maintenance-drain.yaml"
        let json = try runEvac(["validate", bad, good, "--output", "json"])
        #expect(json.status == 2)
        let report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))
        #expect(!report.valid)
        #expect(report.files.map(\.file) == [bad, good])
        #expect(report.files[1].valid && report.files[1].plan == "rack12-kernel-upgrade")
        let errors = report.files[0].diagnostics.filter { $0.severity == "error" }
        #expect(!errors.isEmpty)
        let text = try runEvac(["validate", bad])
        for e in errors {
            #expect(text.stderr.contains("\(bad):\(e.line):\(e.column): error: \(e.message)"), "\(e) in \(text.stderr)")
        }
        let ok = try runEvac(["validate", good, "--output", "json"])
        #expect(ok.status == 0)
        #expect(try JSONDecoder().decode(Report.self, from: Data(ok.stdout.utf8)).valid)
    }
}
