import Foundation
import EvacCore
import EvacRun

/// One run per plan name at a time. The journal's own lock is per plan hash, and a YAML plan
/// re-placed while another run moves its guests gets a different hash — so without this a
/// second `apply` of the same plan would run beside the first.
enum PlanRunLock {
    static func acquire(planName: String, stateDirectory dir: String) throws(CLIFailure) -> JournalLock {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .cannotStart("error: cannot create state directory \(dir): \(error.localizedDescription)\n")
        }
        let base = JournalLocation.journalPath(planName: planName, planHash: "", stateDirectory: dir)
            .replacingOccurrences(of: "-.journal.sqlite", with: ".plan")
        do { return try JournalLock(journalPath: base) } catch {
            if case .locked(_, let holder) = error {
                throw .cannotStart("error: plan \(planName) is already being run by \(holder)\n    help: wait for it, or watch it with `evac status`\n")
            }
            throw .cannotStart("error: \(error)\n")
        }
    }

    /// The plan's name from a YAML plan or a saved plan file, without placing anything.
    static func planName(of path: String) throws(CLIFailure) -> String {
        switch PlanReference.kind(of: path) {
        case .planFile: return try PlanReference.loadPlanFile(path).planName
        case .journal: throw .invalid("error: \(path) is a journal\n")
        case .yaml:
            do { return try PlanLoader.load(path: path).spec.name } catch {
                if case .invalid(let s) = error { throw .invalid(s) }
                throw .invalid("")
            }
        }
    }
}
