import ArgumentParser
import EvacCore
import EvacRun
import Foundation

/// What `apply`, `resume`, `rollback` and `status` are pointed at: a plan (YAML), a saved
/// plan file (JSON), or a journal. Resolves to the plan file and its journal's path.
enum PlanReference {
    enum Kind { case yaml, planFile, journal }

    static func kind(of path: String) -> Kind {
        if path.hasSuffix(JournalLocation.journalSuffix) { return .journal }
        if path.hasSuffix(".json") { return .planFile }
        return .yaml
    }

    /// Reads a YAML plan; its diagnostics, already rendered, become the failure.
    static func loadYAML(_ path: String) throws(CLIFailure) -> LoadedPlan {
        try PlanLoader.load(path: path)
    }

    /// Reads and verifies a saved plan file: a hash that does not match means it was edited.
    static func loadPlanFile(_ path: String) throws(CLIFailure) -> PlanFile {
        let shown = TerminalText.escape(path)
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path, what: "plan file", limit: PlanFile.maxBytes) } catch {
            throw .invalid("\(shown): error: \(error.reason)\n")
        }
        switch PlanFile.decode(Data(bytes)) {
        case .success(let plan): return plan
        case .failure(let e):
            throw .invalid("\(shown): error: \(e.message)\n\(e.help.map { "    help: \($0)\n" } ?? "")")
        }
    }

    /// The journal of a plan for resume and status: a journal path as given; for a saved plan
    /// file the journal of its hash; for a YAML plan (whose re-placement after a partial run
    /// would differ) the plan name's live journal (PlanRuns), else its newest one.
    static func journal(
        for path: String, stateDirectory: String, command: String = "resume"
    ) throws(CLIFailure) -> (plan: PlanFile, journal: String) {
        switch kind(of: path) {
        case .journal:
            do { return (try JournalStatus.storedPlan(path: path), path) } catch {
                throw .cannotStart("error: \(error)\n")
            }
        case .planFile:
            let plan = try loadPlanFile(path)
            let journal = JournalLocation.journalPath(for: plan, stateDirectory: stateDirectory)
            guard FileManager.default.fileExists(atPath: journal) else {
                if let open = try PlanRuns.find(planName: plan.planName, stateDirectory: stateDirectory).live.first {
                    throw .cannotStart(
                        "error: no run of this plan file (\(plan.planHash.prefix(12))); plan \(plan.planName)'s run is in \(open.path)\n    help: `evac \(command) \(ShellWord.quote(open.path))`\n"
                    )
                }
                throw .cannotStart(
                    "error: no journal for plan \(plan.planName) (\(plan.planHash.prefix(12))) in \(stateDirectory)\n    help: `evac apply \(path)` starts a run\n"
                )
            }
            return (plan, journal)
        case .yaml:
            // status/resume/rollback read no arbitrary file as a plan: its diagnostics would
            // echo the file's lines (a mistyped `evac status /etc/shadow` run by root).
            guard path.hasSuffix(".yaml") || path.hasSuffix(".yml") else {
                throw .invalid(
                    "error: \(TerminalText.escape(path)) is not a plan (.yaml), a saved plan file (.json) or a journal (\(JournalLocation.journalSuffix))\n"
                )
            }
            let loaded = try loadYAML(path)
            let runs = try PlanRuns.find(planName: loaded.spec.name, stateDirectory: stateDirectory)
            if runs.live.count > 1 { throw runs.severalLive(loaded.spec.name, command) }
            guard let chosen = runs.live.first ?? runs.entries.first else {
                throw .cannotStart(
                    "error: no journal for plan \(loaded.spec.name) in \(stateDirectory)\n    help: `evac apply \(path)` starts a run\n"
                )
            }
            do { return (try JournalStatus.storedPlan(path: chosen.path), chosen.path) } catch {
                throw .cannotStart("error: \(error)\n")
            }
        }
    }

    /// The journals a rollback of `path` returns the guests of: a journal path as given; for a
    /// plan (YAML or saved plan file) every live journal of its name, newest first — the
    /// plan's runs, not only the newest — or, when none is live, its newest journal (whose
    /// rollback then says why there is nothing to do).
    static func journalsToRollBack(
        _ path: String, stateDirectory: String
    ) throws(CLIFailure) -> (planName: String, journals: [String]) {
        let name: String
        switch kind(of: path) {
        case .journal:
            do { return (try JournalStatus.storedPlan(path: path).planName, [path]) } catch {
                throw .cannotStart("error: \(error)\n")
            }
        case .planFile: name = try loadPlanFile(path).planName
        case .yaml: name = try loadYAML(path).spec.name
        }
        let runs = try PlanRuns.find(planName: name, stateDirectory: stateDirectory)
        let chosen = runs.live.isEmpty ? Array(runs.entries.prefix(1)) : runs.live
        guard !chosen.isEmpty else {
            throw .cannotStart(
                "error: no journal for plan \(name) in \(stateDirectory)\n    help: nothing of this plan ever ran here\n"
            )
        }
        return (name, chosen.map(\.path))
    }

    /// Journals of a plan name, newest first.
    static func journals(named name: String, in dir: String) -> [String] {
        let stem = JournalLocation.planStem(planName: name, stateDirectory: dir)
        let prefix = (stem as NSString).lastPathComponent + "-"
        let suffix = JournalLocation.journalSuffix
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter {
            $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && $0.count == prefix.count + 12 + suffix.count
        }
        .map { dir + "/" + $0 }
        .sorted { modified($0) > modified($1) }
    }

    static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }
}

/// A failure already worded for the operator, with the exit code it maps to: the one error
/// type of the commands. `EvacCommand.runMain` prints it and exits with its code.
struct CLIFailure: Error, CustomStringConvertible {
    /// Rendered for the terminal, newline-terminated (`error: …`, `help: …`, diagnostics).
    var message: String
    var code: ExitCode

    /// Bad input (a plan, a file, an argument): exit 2, nothing was done.
    static func invalid(_ message: String) -> CLIFailure { CLIFailure(message: message, code: EvacExit.invalidInput) }
    /// A run that could not start (unreachable source, locked or missing journal, stale plan): exit 3.
    static func cannotStart(_ message: String) -> CLIFailure {
        CLIFailure(message: message, code: EvacExit.cannotStart)
    }

    var description: String { message }
}
