import EvacCore
import Foundation

/// Where journals live: `$EVAC_STATE_DIR`, else `$XDG_STATE_HOME/evac`, else `~/.local/state/evac`.
/// One file per plan: `<plan-name>-<first 12 of planHash>.journal.sqlite`, so that the same plan
/// always finds its journal (resume, status, rollback) and a changed plan gets a new one.
public enum JournalLocation {
    /// The state directory `environment` names (see above); it is not created here.
    public static func stateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let d = environment["EVAC_STATE_DIR"], !d.isEmpty { return d }
        if let x = environment["XDG_STATE_HOME"], !x.isEmpty { return x + "/evac" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/evac"
    }

    /// Every journal file name ends with this.
    public static let journalSuffix = ".journal.sqlite"

    /// `DIR/NAME`, the plan name made safe for a file name: a plan's journals are
    /// `STEM-HASH12.journal.sqlite` and its run lock `STEM.plan.lock`.
    public static func planStem(planName: String, stateDirectory: String) -> String {
        stateDirectory + "/" + String(planName.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    /// The journal of the plan named `planName` with hash `planHash`, in `stateDirectory`.
    public static func journalPath(planName: String, planHash: String, stateDirectory: String) -> String {
        planStem(planName: planName, stateDirectory: stateDirectory) + "-" + planHash.prefix(12) + journalSuffix
    }

    /// The journal of `plan`, in `stateDirectory` or else the default one.
    public static func journalPath(for plan: PlanFile, stateDirectory: String? = nil) -> String {
        journalPath(
            planName: plan.planName, planHash: plan.planHash,
            stateDirectory: stateDirectory ?? Self.stateDirectory())
    }

    /// Creates the directory (and parents) 0700, and refuses one another user could write to or
    /// swap (see `StateFiles`): journals name hosts and guests, and evac runs as root.
    public static func ensureDirectory(_ dir: String) throws(JournalError) {
        try StateFiles.ensureDirectory(dir)
    }
}
