/// Guests committed to each target by this run: in flight, or done (already counted by the
/// target's inventory too; the UUID de-duplicates). A pre-check decides and reserves under one
/// lock, so two concurrent checks cannot both take the last room; a done migration keeps its
/// entry so that a check holding an inventory snapshot from before it landed still counts it.
final class InFlightLedger: Sendable {
    struct Entry: Sendable { var uuid: String; var memoryKiB: UInt64; var vcpus: Int }
    private let byTarget = Locked([String: [String: Entry]]())

    /// Calls `decide` with the others committed to `target`; reserves when it returns nil.
    func reserve(target: String, _ e: Entry, decide: ([Entry]) -> String?) -> String? {
        byTarget.withLock { all in
            let others = (all[target] ?? [:]).values.filter { $0.uuid != e.uuid }
            if let why = decide(Array(others)) { return why }
            all[target, default: [:]][e.uuid] = e
            return nil
        }
    }

    /// The migration did not land on the target (failed, aborted, not started).
    func release(target: String, uuid: String) { byTarget.withLock { _ = $0[target]?.removeValue(forKey: uuid) } }
}
