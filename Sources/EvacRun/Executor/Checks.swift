import EvacCore

/// What the pre-checks compare against, taken from the plan file.
struct CheckPolicy: Sendable {
    /// The plan's target constraints, with the bridge renames of this kind of run.
    var target: TargetConstraints

    init(plan: PlanFile, kind: RunKind = .apply) {
        target = plan.policy.constraints
        target.bridgeMap = plan.bridgeMap(for: kind)
    }
}

/// A guest as its source reported it at the start of a run, with that source's storage pools.
struct GuestAtSource: Sendable {
    var guest: Guest
    var sourcePools: [StoragePoolInfo]
    var sourceHypervisorVersion: String?

    init(guest: Guest, source: HostInventory) {
        self.guest = guest
        sourcePools = source.storagePools
        sourceHypervisorVersion = source.hypervisorVersion
    }
}

/// What the pre-check decided: start (taking `claim` with `running`, when a coordinator is in
/// use), or not, and why.
enum PreCheck: Sendable, Hashable {
    case start(CapacityClaim?)
    case blocked(String)
}

/// The checks around one migration, each returning nil (fine) or the reason in words an
/// operator can act on. Read-only: they never change a host.
struct Checks: Sendable {
    let hypervisor: any Hypervisor
    let policy: CheckPolicy
    let ledger: InFlightLedger
    /// Guest UUID → the guest and its source's storage pools, from the inspection of every
    /// source at the start of the run: a guest's NICs and disks do not change during a drain,
    /// and re-reading a source's whole inventory before each of its migrations is O(guests²)
    /// per source.
    let atStart: [String: GuestAtSource]
    /// What other runs of the fleet hold on each target (LocalCoordinator: nobody else).
    var coordinator: any RunCoordinator = LocalCoordinator()

    /// Before, as a reason or nil (the dry run: it takes no claim).
    func before(_ s: StepSpec) async -> String? {
        if case .blocked(let why) = await check(s) { return why }
        return nil
    }

    /// Before: guest still on its source in the expected state, target reachable with room
    /// (counting guests in flight to it, and what other runs reserved on it), not drained by
    /// another run, bridges present, CPU compatible.
    func check(_ s: StepSpec) async -> PreCheck {
        // What other runs hold, read before the target's inventory: a migration of theirs that
        // lands in between is then in both (counted once, by UUID), never in neither; and any
        // change after this read makes the claim's version check fail, so the check runs again.
        let others: TargetCommitments
        do { others = try await coordinator.commitments(on: s.target.name) } catch {
            return .blocked("coordinator: \(error)")
        }
        if let d = others.drainedBy {
            return .blocked("target \(s.target.name) is being drained by \(d): a host being drained is never a target")
        }
        if let why = await local(s, others: others) { return .blocked(why) }
        return .start(
            others.version.map {
                CapacityClaim(target: s.target.name, uuid: s.uuid, memoryKiB: memoryNeed(s), vcpus: s.vcpus, seen: $0)
            })
    }

    private func local(_ s: StepSpec, others: TargetCommitments) async -> String? {
        let presence: GuestPresence
        do { presence = try await hypervisor.locate(guestUUID: s.uuid, on: s.source) } catch {
            return "source \(Self.describe(error))"
        }
        guard case .present(let state, let persistent) = presence else {
            return "guest \(s.guest) (\(s.uuid)) is no longer on \(s.source.name)"
        }
        if s.mode == .offline {
            if state.isActive {
                return "guest \(s.guest) is \(state.rawValue) on \(s.source.name); the plan moves it offline (stopped)"
            }
            if !persistent { return "guest \(s.guest) is not persistent: nothing to move offline" }
        } else if !state.isActive {
            return "guest \(s.guest) is \(state.rawValue) on \(s.source.name); the plan moves it \(s.mode.rawValue)"
        }

        let target: HostInventory
        do { target = try await hypervisor.inspect(s.target) } catch { return "target \(Self.describe(error))" }
        for g in target.guests where g.name == s.guest || g.uuid == s.uuid {
            if g.uuid == s.uuid {
                return
                    "guest \(s.guest) (\(s.uuid)) is already on \(s.target.name) while also on \(s.source.name): needs attention"
            }
            return "target \(s.target.name) already has a guest named \(s.guest) (uuid \(g.uuid))"
        }

        // Placement's own filters (bridges and networks, shared storage) on the live target.
        var known = atStart[s.uuid]
        if known == nil {
            do {
                let source = try await hypervisor.inspect(s.source)
                known = source.guests.first { $0.uuid == s.uuid }.map { GuestAtSource(guest: $0, source: source) }
            } catch { return "source \(Self.describe(error))" }
        }
        if let known, let why = LiveFilters.guestRefusal(known.guest) { return "guest \(s.guest) \(why)" }
        if let known, s.mode != .offline,
            let why = Migratability.liveRefusal(known.guest, allowed: policy.target.allow ?? [])
        {
            return "guest \(s.guest) \(why.reason)"
        }
        if let known,
            let r = LiveFilters.rejection(
                guest: known.guest, sourcePools: known.sourcePools,
                sourceHypervisorVersion: known.sourceHypervisorVersion, target: target,
                bridges: policy.target.bridges, bridgeMap: policy.target.bridgeMap)
        {
            return "target \(target.name): \(r.reason) (filter \(r.filter))"
        }
        if let known, !s.copyStorage.isEmpty, let r = LiveFilters.storageCopyRoom(guest: known.guest, target: target) {
            return "target \(target.name): \(r.reason) (filter \(r.filter))"
        }

        if policy.target.cpu != .ignore {
            do {
                if try await hypervisor.compareCPU(guestUUID: s.uuid, source: s.source, target: s.target)
                    == .incompatible
                {
                    return "CPU of \(s.target.name) is incompatible with guest \(s.guest) (libvirt CPU comparison)"
                }
            } catch  where error.kind == .unsupported {
                // The hypervisor cannot tell: placement already checked the CPU against the inventory.
            } catch {
                return "CPU check against \(Self.describe(error))"
            }
        }
        // Last, so that a reservation is only taken by a step that will start.
        return ledger.reserve(target: s.target.name, .init(uuid: s.uuid, memoryKiB: memoryNeed(s), vcpus: s.vcpus)) {
            room(s, target, $0, others: others)
        }
    }

    /// The memory a step takes on its target: none for a shut-off guest's definition when the
    /// plan waives `shut-off-memory` (as placement counted it), else the guest's.
    private func memoryNeed(_ s: StepSpec) -> UInt64 {
        s.mode == .offline && policy.target.allows(.shutOffMemory) ? 0 : s.memoryKiB
    }

    private func room(
        _ s: StepSpec, _ t: HostInventory, _ committed: InFlightLedger.Committed,
        others: TargetCommitments
    ) -> String? {
        // One pass, no allocation: this runs for every migration against every guest on the target.
        // A guest arriving shows up on the target early (paused, incoming): counted once, as committed.
        var memory = committed.memoryKiB
        var vcpus = committed.vcpus + s.vcpus
        // Other runs' reservations (none without a coordinator), each counted once.
        var theirs = Set<String>()
        for e in others.entries where e.uuid != s.uuid && !committed.contains(e.uuid) && theirs.insert(e.uuid).inserted
        {
            let (m, o) = memory.addingReportingOverflow(e.memoryKiB)
            memory = o ? .max : m
            vcpus = vcpus.addingReportingOverflow(e.vcpus).overflow ? .max : vcpus + e.vcpus
        }
        // Saturating: the target's figures are what its daemon says, and must not trap.
        for g in t.guests where g.uuid != s.uuid && !committed.contains(g.uuid) && !theirs.contains(g.uuid) {
            let (m, o) = memory.addingReportingOverflow(g.memoryKiB)
            memory = o ? .max : m
            vcpus = vcpus.addingReportingOverflow(g.vcpus).overflow ? .max : vcpus + g.vcpus
        }
        let (afterReserve, o1) = Int64(clamping: t.memoryKiB).subtractingReportingOverflow(
            Int64(clamping: policy.target.memoryReserveKiB))
        let (left, o2) = afterReserve.subtractingReportingOverflow(Int64(clamping: memory))
        let free = o1 || o2 ? Int64.min : left
        let waived = memoryNeed(s) == 0 && s.memoryKiB > 0
        if !waived, free < Int64(clamping: s.memoryKiB) {
            let othersHere = committed.count
            return "target \(s.target.name) has no room: guest needs \(Format.kib(s.memoryKiB)), "
                + "\(Format.kib(signed: free)) free after the \(Format.kib(policy.target.memoryReserveKiB)) reserve"
                + (othersHere == 0
                    ? "" : " and \(othersHere) other migration\(othersHere == 1 ? "" : "s") committed to it")
                + Self.reserved(theirs.count, others: others)
                + (s.mode == .offline ? PolicyWaiver.shutOffMemory.policySuffix : "")
        }
        if let ratio = policy.target.maxVCPURatio, t.cpus > 0, Double(vcpus) > ratio * Double(t.cpus) {
            return "target \(s.target.name) would have \(vcpus) vCPUs on \(t.cpus) CPUs, above the ratio \(ratio)"
        }
        return nil
    }

    /// " and 2 migration(s) of other runs reserved on it (plan rack12 (in-flight))".
    private static func reserved(_ n: Int, others: TargetCommitments) -> String {
        guard n > 0 else { return "" }
        let holders = Array(Set(others.entries.map(\.holder))).sorted().joined(separator: ", ")
        return " and \(n) migration\(n == 1 ? "" : "s") of other runs reserved on it (\(holders))"
    }

    /// After: the guest is on the target (active, or defined for offline) and gone from the
    /// source when the plan undefines it there.
    func after(_ s: StepSpec) async -> String? {
        do {
            switch try await hypervisor.locate(guestUUID: s.uuid, on: s.target) {
            case .absent: return "guest \(s.guest) is not on \(s.target.name) after the migration"
            case .present(let state, _):
                if s.mode != .offline && !state.isActive {
                    return "guest \(s.guest) is \(state.rawValue) on \(s.target.name) after the migration"
                }
            }
        } catch { return "target \(Self.describe(error))" }
        guard s.options.undefineSource else { return nil }
        do {
            if case .present(let state, _) = try await hypervisor.locate(guestUUID: s.uuid, on: s.source) {
                return "guest \(s.guest) is still on \(s.source.name) (\(state.rawValue)) after the migration"
            }
        } catch { return "source \(Self.describe(error))" }
        return nil
    }

    /// "kvm-13a (qemu+ssh://…) unreachable: connection refused"
    static func describe(_ e: HypervisorError) -> String { e.hostProblem }
}

extension HypervisorError {
    /// "kvm-13a (qemu+ssh://…) unreachable: connection refused"
    public var hostProblem: String {
        "\(host) (\(uri)) \(kind == .unreachable ? "unreachable" : kind.rawValue): \(message)"
    }
}

extension PlanFile {
    /// The bridge renames a run writes into the guests' XML: the plan's for apply, and the
    /// inverse for rollback, which brings guests back to the names their home hosts have. A name
    /// that two source bridges were merged into has no single way back: it is left as it is,
    /// and the rollback's pre-check says so if the home host lacks it.
    func bridgeMap(for kind: RunKind) -> [String: String] {
        let map = policy.constraints.bridgeMap
        guard kind == .rollback else { return map }
        var inverse: [String: String] = [:]
        var merged: Set<String> = []
        for (from, to) in map where from != to {
            if inverse[to] != nil { merged.insert(to) } else { inverse[to] = from }
        }
        for name in merged { inverse[name] = nil }
        return inverse
    }
}
