import Foundation
import EvacCore
import EvacYAML

/// Reads a plan file from disk into a spec, or the diagnostics that stop it.
struct LoadedPlan {
    var source: SourceFile
    var spec: PlanSpec
    var warnings: [Diagnostic]
    var sha256: String
}

enum PlanLoadFailure: Error {
    /// Diagnostics already rendered for the user.
    case invalid(String)
}

enum PlanLoader {
    static func load(path: String) throws(PlanLoadFailure) -> LoadedPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "does not exist"
            throw .invalid("\(path): error: plan file \(why)\n")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .invalid("\(path):1:1: error: plan file is not UTF-8 text\n    help: save it as UTF-8\n")
        }
        let source = SourceFile(path: path, text: text)
        let root: Node
        switch YAMLReader.parse(source) {
        case .success(let node): root = node
        case .failure(let e):
            throw .invalid(DiagnosticRenderer.render(e.diagnostic(file: path), source: source) + "1 error\n")
        }
        let (spec, diagnostics) = PlanReader.read(root, file: path)
        guard var spec else {
            throw .invalid(DiagnosticRenderer.render(diagnostics, sources: [path: source]) + summary(diagnostics))
        }
        spec.expandPlanDir(URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path)
        return LoadedPlan(source: source, spec: spec, warnings: diagnostics, sha256: SHA256.hex(Array(data)))
    }

    static func summary(_ ds: [Diagnostic]) -> String {
        let e = ds.filter { $0.severity == .error }.count, w = ds.filter { $0.severity == .warning }.count
        return "\(e) error\(e == 1 ? "" : "s")\(w > 0 ? ", \(w) warning\(w == 1 ? "" : "s")" : "")\n"
    }
}

extension PlanSpec {
    /// `{plan-dir}` in a host URI stands for the plan file's directory, so plans can ship next
    /// to test-driver host files (`test:///{plan-dir}/hosts/kvm-12a.xml`).
    mutating func expandPlanDir(_ dir: String) {
        let trimmed = dir.hasPrefix("/") ? String(dir.dropFirst()) : dir
        for i in hosts.indices where hosts[i].uri.contains("{plan-dir}") {
            hosts[i].uri = hosts[i].uri.replacingOccurrences(of: "/{plan-dir}", with: "/" + trimmed)
                .replacingOccurrences(of: "{plan-dir}", with: dir)
        }
    }
}
