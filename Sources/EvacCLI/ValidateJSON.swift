import EvacCore
import EvacYAML
import Foundation

/// `evac validate --output json`: each file's verdict and every diagnostic with its position,
/// for editors and CI jobs that check plans.
struct ValidationReport: Codable {
    struct File: Codable {
        var file: String
        var valid: Bool
        var plan: String?
        var sources: Int?
        var targets: Int?
        var diagnostics: [Item]
    }
    struct Item: Codable {
        var severity: String
        var line: Int
        var column: Int
        var span: Int
        var message: String
        var help: String?
    }
    var valid: Bool
    var files: [File]

    /// Reads the plan the way `PlanLoader.load` does, keeping the diagnostics as values.
    static func check(_ path: String, strict: Bool) -> File {
        func fail(_ message: String, help: String? = nil, line: Int = 1) -> File {
            File(
                file: path, valid: false,
                diagnostics: [Item(severity: "error", line: line, column: 1, span: 1, message: message, help: help)])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return fail(
                "plan file \(FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "does not exist")",
                line: 0)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return fail("plan file is not UTF-8 text", help: "save it as UTF-8")
        }
        let diagnostics: [Diagnostic]
        var spec: PlanSpec?
        switch YAMLReader.parse(SourceFile(path: path, text: text)) {
        case .failure(let e): diagnostics = [e.diagnostic(file: path)]
        case .success(let root): (spec, diagnostics) = PlanReader.read(root, file: path)
        }
        let items = diagnostics.sorted().map {
            Item(
                severity: $0.severity.rawValue, line: $0.mark.line, column: $0.mark.column, span: $0.span,
                message: $0.message, help: $0.help)
        }
        let warned = diagnostics.contains { $0.severity == .warning }
        return File(
            file: path, valid: spec != nil && !(strict && warned), plan: spec?.name, sources: spec?.sources.count,
            targets: spec?.targetNames.count, diagnostics: items)
    }
}
