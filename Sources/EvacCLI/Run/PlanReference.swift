import Foundation
import EvacCore
import EvacRun

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
        do { return try PlanLoader.load(path: path) } catch {
            switch error { case .invalid(let rendered): throw .invalid(rendered) }
        }
    }

    /// Reads and verifies a saved plan file: a hash that does not match means it was edited.
    static func loadPlanFile(_ path: String) throws(CLIFailure) -> PlanFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalid("\(path): error: plan file does not exist or cannot be read\n")
        }
        let plan: PlanFile
        do { plan = try JSONDecoder().decode(PlanFile.self, from: data) } catch {
            throw .invalid("\(path): error: not an evac plan file: \(InventoryGatherer.describe(error))\n    help: write one with `evac plan PLAN.yaml --output json -o FILE`\n")
        }
        guard plan.format == "evac-planfile", plan.formatVersion == 1 else {
            throw .invalid("\(path): error: plan file format \(plan.format) \(plan.formatVersion) is not evac-planfile 1\n")
        }
        guard plan.planHash == plan.computedHash else {
            throw .invalid("\(path): error: plan file was modified after it was written (hash \(plan.planHash.prefix(12)) does not match its content)\n    help: plan again with `evac plan … --output json`; never edit a saved plan by hand\n")
        }
        return plan
    }

    /// The journal of a plan for resume and status: a journal path as given; for a saved plan
    /// file the journal of its hash; for a YAML plan (whose re-placement after a partial run
    /// would differ) the plan name's live journal (PlanRuns), else its newest one.
    static func journal(for path: String, stateDirectory: String, command: String = "resume") throws(CLIFailure) -> (plan: PlanFile, journal: String) {
        switch kind(of: path) {
        case .journal:
            do { return (try JournalStatus.storedPlan(path: path), path) }
            catch { throw .cannotStart("error: \(error)\n") }
        case .planFile:
            let plan = try loadPlanFile(path)
            let journal = JournalLocation.journalPath(for: plan, stateDirectory: stateDirectory)
            guard FileManager.default.fileExists(atPath: journal) else {
                if let open = try PlanRuns.find(planName: plan.planName, stateDirectory: stateDirectory).live.first {
                    throw .cannotStart("error: no run of this plan file (\(plan.planHash.prefix(12))); plan \(plan.planName)'s run is in \(open.path)\n    help: `evac \(command) \(ShellWord.quote(open.path))`\n")
                }
                throw .cannotStart("error: no journal for plan \(plan.planName) (\(plan.planHash.prefix(12))) in \(stateDirectory)\n    help: `evac apply \(path)` starts a run\n")
            }
            return (plan, journal)
        case .yaml:
            let loaded = try loadYAML(path)
            let runs = try PlanRuns.find(planName: loaded.spec.name, stateDirectory: stateDirectory)
            if runs.live.count > 1 { throw runs.severalLive(loaded.spec.name, command) }
            guard let chosen = runs.live.first ?? runs.entries.first else {
                throw .cannotStart("error: no journal for plan \(loaded.spec.name) in \(stateDirectory)\n    help: `evac apply \(path)` starts a run\n")
            }
            do { return (try JournalStatus.storedPlan(path: chosen.path), chosen.path) }
            catch { throw .cannotStart("error: \(error)\n") }
        }
    }

    /// The journals a rollback of `path` returns the guests of: a journal path as given; for a
    /// plan (YAML or saved plan file) every live journal of its name, newest first — the
    /// plan's runs, not only the newest — or, when none is live, its newest journal (whose
    /// rollback then says why there is nothing to do).
    static func journalsToRollBack(_ path: String, stateDirectory: String) throws(CLIFailure) -> (planName: String, journals: [String]) {
        let name: String
        switch kind(of: path) {
        case .journal:
            do { return (try JournalStatus.storedPlan(path: path).planName, [path]) }
            catch { throw .cannotStart("error: \(error)\n") }
        case .planFile: name = try loadPlanFile(path).planName
        case .yaml: name = try loadYAML(path).spec.name
        }
        let runs = try PlanRuns.find(planName: name, stateDirectory: stateDirectory)
        let chosen = runs.live.isEmpty ? Array(runs.entries.prefix(1)) : runs.live
        guard !chosen.isEmpty else {
            throw .cannotStart("error: no journal for plan \(name) in \(stateDirectory)\n    help: nothing of this plan ever ran here\n")
        }
        return (name, chosen.map(\.path))
    }

    /// Journals of a plan name, newest first.
    static func journals(named name: String, in dir: String) -> [String] {
        let stem = JournalLocation.planStem(planName: name, stateDirectory: dir)
        let prefix = (stem as NSString).lastPathComponent + "-", suffix = JournalLocation.journalSuffix
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && $0.count == prefix.count + 12 + suffix.count }
            .map { dir + "/" + $0 }
            .sorted { modified($0) > modified($1) }
    }

    static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? .distantPast
    }
}

/// A failure already worded for the operator, with the exit code it maps to.
enum CLIFailure: Error {
    case invalid(String)
    case cannotStart(String)
}
