/// Guests committed to each target by this run: in flight, or done (then also in the target's
/// inventory; the UUID de-duplicates). A pre-check decides and reserves under one lock, so two
/// concurrent checks cannot both take the last room; a done migration keeps its entry so that
/// a check holding an inventory snapshot from before it landed still counts it.
final class InFlightLedger: Sendable {
    struct Entry: Sendable {
        var uuid: String
        var memoryKiB: UInt64
        var vcpus: Int
    }
    /// What a decision sees: sums over the others committed to the target, and membership.
    struct Committed {
        var entries: [String: Entry]
        var memoryKiB: UInt64 = 0
        var vcpus = 0
        var count: Int { entries.count }
        func contains(_ uuid: String) -> Bool { entries[uuid] != nil }
    }
    private let byTarget = Locked([String: Committed]())

    /// Calls `decide` with the others committed to `target`; reserves when it returns nil.
    func reserve(target: String, _ e: Entry, decide: (Committed) -> String?) -> String? {
        byTarget.withLock { all in
            var c = all[target] ?? Committed(entries: [:])
            if let old = c.entries.removeValue(forKey: e.uuid) {
                c.memoryKiB -= old.memoryKiB
                c.vcpus -= old.vcpus
            }
            if let why = decide(c) { return why }
            c.entries[e.uuid] = e
            c.memoryKiB += e.memoryKiB
            c.vcpus += e.vcpus
            all[target] = c
            return nil
        }
    }

    /// The migration did not land on the target (failed, aborted, not started).
    func release(target: String, uuid: String) {
        byTarget.withLock { all in
            guard let old = all[target]?.entries.removeValue(forKey: uuid) else { return }
            all[target]!.memoryKiB -= old.memoryKiB
            all[target]!.vcpus -= old.vcpus
        }
    }
}
