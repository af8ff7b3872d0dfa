/// A rolling maintenance cycle (`rolling:` in a plan): the sources are taken `atATime` at a
/// time, in the order listed. Each batch is drained into the other hosts of the target pools
/// (which may include the other sources), the host's maintenance commands run once it is empty,
/// evac waits until libvirt answers on it again, its guests come back (optional), then the next.
public struct RollingSpec: Hashable, Sendable, Codable {
    /// How many source hosts are down for maintenance at once (a batch).
    public var atATime: Int = 1
    /// How long a host may take to answer libvirt again after its maintenance commands.
    public var waitForHostMs: UInt64 = 600_000
    /// Move a batch's guests back once its hosts answer again (its drain rolled back).
    public var returnGuests: Bool = true
    /// Per-host commands run once the host is empty (`hosts:` selects, like drain hooks).
    public var maintenance: [HookSpec] = []
    /// A cycle of one host at a time, waiting for it without a maintenance command.
    public init() {}

    /// What the plan language accepts for `at-a-time`.
    public static let atATimeBounds: ClosedRange<Int> = 1...64
    /// What it accepts for `wait-for-host`: a second to a day.
    public static let waitForHostBoundsMs: ClosedRange<UInt64> = 1000...(24 * 3_600_000)

    /// The sources in batches of `atATime`, in the plan's order.
    public func batches(_ sources: [String]) -> [[String]] {
        let n = max(1, atATime)
        return stride(from: 0, to: sources.count, by: n).map { Array(sources[$0..<min($0 + n, sources.count)]) }
    }

    /// What is out of bounds (counts, waits, the maintenance commands'), for the plan diagnostics.
    public var problems: [String] {
        var out: [String] = []
        if !Self.atATimeBounds.contains(atATime) { out.append("rolling.at-a-time \(atATime) is out of range") }
        if !Self.waitForHostBoundsMs.contains(waitForHostMs) {
            out.append("rolling.wait-for-host \(waitForHostMs)ms is out of range")
        }
        out += maintenance.flatMap(\.problems)
        return out
    }
}

extension PlanSpec {
    /// The plan of one batch of a rolling cycle: drain these hosts into the targets other
    /// than them. Its name says which batch it is (its journal is its own).
    public func rollingPhase(_ batch: [String]) -> PlanSpec {
        var phase = self
        phase.rolling = nil
        phase.hooks.maintenance = []
        phase.name = "\(name)--\(batch.joined(separator: "+"))"
        phase.sources = sources.filter { batch.contains($0.value) }
        phase.targetPools = targetPools.compactMap { pool in
            var p = pool
            p.hosts = pool.hosts.filter { !batch.contains($0.value) }
            return p.hosts.isEmpty ? nil : p
        }
        return phase
    }
}

/// The up-front capacity check of a rolling cycle (N+1): every batch's guests must fit on the
/// hosts that stay up while it is down. With `return-guests` each batch starts from the
/// fleet as it is now; without, each starts from where the previous batches left the guests.
public enum RollingCheck {
    /// One batch of the cycle as the check placed it.
    public struct Batch: Sendable, Hashable {
        /// The hosts down together.
        public var hosts: [String]
        /// Where their guests would go.
        public var placements: [Placement]
        /// The guests that would fit nowhere: the cycle cannot run as planned.
        public var unplaceable: [Unplaceable]
        /// The guests the plan's selection leaves on the hosts.
        public var skipped: [SkippedGuest]
    }

    /// Places every batch's guests on the hosts that stay up, in the cycle's order; empty when the
    /// plan has no `rolling:`.
    public static func check(_ spec: PlanSpec, inventory: Inventory) -> [Batch] {
        guard let rolling = spec.rolling else { return [] }
        var fleet = inventory
        var out: [Batch] = []
        for batch in rolling.batches(spec.sourceNames) {
            let result = Placer.place(spec: spec.rollingPhase(batch), inventory: fleet)
            out.append(
                Batch(
                    hosts: batch, placements: result.placements, unplaceable: result.unplaceable,
                    skipped: result.skipped))
            if !rolling.returnGuests { fleet = moved(fleet, result.placements) }
        }
        return out
    }

    /// The fleet after the placements' migrations.
    static func moved(_ inventory: Inventory, _ placements: [Placement]) -> Inventory {
        var inv = inventory
        let index = Dictionary(inv.hosts.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        for p in placements {
            guard let s = index[p.source], let t = index[p.target],
                let g = inv.hosts[s].guests.firstIndex(where: { $0.uuid == p.uuid })
            else { continue }
            inv.hosts[t].guests.append(inv.hosts[s].guests.remove(at: g))
        }
        return inv
    }
}
