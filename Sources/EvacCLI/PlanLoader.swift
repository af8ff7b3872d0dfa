import EvacCore
import EvacRun
import EvacYAML
import Foundation

/// Reads a plan file from disk into a spec, or the diagnostics that stop it.
struct LoadedPlan {
    var source: SourceFile
    var spec: PlanSpec
    var warnings: [Diagnostic]
    var sha256: String
}

enum PlanLoader {
    static func load(path: String) throws(CLIFailure) -> LoadedPlan {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path, what: "plan file", limit: PlanDocument.maxBytes) } catch {
            throw .invalid("\(TerminalText.escape(error.path)): error: \(error.reason)\n")
        }
        let read = PlanDocument.read(bytes: bytes, path: path)
        guard var spec = read.spec else {
            throw .invalid(
                DiagnosticRenderer.render(read.diagnostics, sources: [path: read.source]) + summary(read.diagnostics))
        }
        spec.expandPlanDir(URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path)
        return LoadedPlan(source: read.source, spec: spec, warnings: read.diagnostics, sha256: SHA256.hex(bytes))
    }

    static func summary(_ ds: [Diagnostic]) -> String {
        let e = ds.filter { $0.severity == .error }.count
        let w = ds.filter { $0.severity == .warning }.count
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
        // In a hook's program, as an absolute path (a hook runs in evac's working directory).
        let absolute = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        for point in HookPoint.allCases {
            for i in hooks[point].indices where hooks[point][i].run.first?.hasPrefix("{plan-dir}/") == true {
                hooks[point][i].run[0] = absolute + hooks[point][i].run[0].dropFirst("{plan-dir}".count)
            }
        }
        if var r = rolling {
            r.maintenance = hooks.maintenance
            rolling = r
        }
    }
}
