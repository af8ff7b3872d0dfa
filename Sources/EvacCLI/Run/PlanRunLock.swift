import EvacCore
import EvacRun
import Foundation

/// One run per plan name at a time. The journal's own lock is per plan hash, and a YAML plan
/// re-placed while another run moves its guests gets a different hash — so without this a
/// second `apply` of the same plan would run beside the first.
enum PlanRunLock {
    static func acquire(planName: String, stateDirectory dir: String) throws(CLIFailure) -> JournalLock {
        do { try JournalLocation.ensureDirectory(dir) } catch { throw .cannotStart("error: \(error)\n") }
        let base = JournalLocation.planStem(planName: planName, stateDirectory: dir) + ".plan"
        do { return try JournalLock(journalPath: base) } catch {
            if case .locked(_, let holder) = error {
                throw .cannotStart(
                    "error: plan \(planName) is already being run by \(holder)\n    help: wait for it, or watch it with `evac status`\n"
                )
            }
            throw .cannotStart("error: \(error)\n")
        }
    }

    /// The plan's name from a YAML plan or a saved plan file, without placing anything.
    static func planName(of path: String) throws(CLIFailure) -> String {
        switch PlanReference.kind(of: path) {
        case .planFile: return try PlanReference.loadPlanFile(path).planName
        case .journal:
            do { return try JournalStatus.storedPlan(path: path).planName } catch {
                throw .cannotStart("error: \(error)\n")
            }
        case .yaml: return try PlanReference.loadYAML(path).spec.name
        }
    }
}
