/// The mutable side of placement: what is planned onto each usable target, the per-class
/// free-memory trees kept in step with it, and an undo log so that repair can try and roll back.
///
/// Capacity is accounted from allocations: a target's free memory is its physical memory, minus
/// the plan's reserve, minus the configured memory of every guest defined on it (running or not,
/// since a shut-off guest may be started at any time), minus what is planned onto it.
struct FleetState {
    let names: [String]
    /// memoryKiB − reserve.
    let capacity: [Int64]
    let usedBefore: [Int64]
    private(set) var planned: [Int64]
    let cpus: [Int]
    let vcpusBefore: [Int]
    private(set) var plannedVCPUs: [Int]
    let hosts: [HostInventory]
    /// Group index -> smallest name of a group member already defined on the target.
    let existingGroups: [[Int: String]]
    /// Movers planned onto each target, in the order they were planned.
    private(set) var incoming: [[Int]]
    /// Target of each mover, or -1.
    private(set) var target: [Int]

    /// Compatibility class of each target, its position in the class, and per-class trees.
    let classOf: [Int]
    let posOf: [Int]
    let members: [[Int]]
    private(set) var trees: [FreeTree]

    private(set) var log: [(mover: Int, from: Int, to: Int)] = []
    let movers: [Mover]
    /// Hot fields of `movers`, flat so that the search does not copy `Mover` values around.
    /// `mem` is what a mover adds to its target's planned memory: 0 for a shut-off guest under
    /// `constraints.allow: [shut-off-memory]` (a definition takes no memory until started).
    let mem: [Int64]
    /// The free memory a mover needs of a target: `mem`, or `Int64.min + 1` (any target, even an
    /// overcommitted one) for a waived shut-off guest, as libvirt moves a definition.
    let need: [Int64]
    let vcpus: [Int]
    let needsOf: [Int]
    let groupsOf: [[Int]]
    /// The pinned target, `FleetState.unpinned`, or `FleetState.pinnedElsewhere`.
    let pinOf: [Int]
    static let unpinned = -1, pinnedElsewhere = -2
    /// Targets where a guest with the mover's name or UUID is already defined (usually none).
    let definedOn: [[Int]]
    /// Whether another mover has the same name or UUID (only then planned guests are compared).
    let hasTwin: [Bool]
    let maxVCPURatio: Double?
    let groupNames: [String]
    /// Copied disks of each mover (empty for most): the storage-copy room filter's input.
    let copyLoads: [[CopyLoad]]

    /// For each mover, the targets that already define a guest of its name or UUID, and whether
    /// another mover shares its name or UUID. Keyed by the movers' names only: a table of every
    /// target's guests (an array per entry) cost a 100,000-guest plan 160,000 allocations.
    private static func twins(movers: [Mover], hosts: [HostInventory]) -> (definedOn: [[Int]], hasTwin: [Bool]) {
        var keyID: [String: Int] = [:]
        keyID.reserveCapacity(2 * movers.count)
        var uses: [Int] = []
        // One hash per key (the slot is claimed through the defaulted subscript), and each
        // mover's ids kept: looking every name and UUID up again was most of this function's
        // 4 % of a 100,000-guest plan.
        func note(_ key: String) -> Int {
            let fresh = uses.count
            let id = claim(&keyID[key, default: fresh])
            if id == fresh { uses.append(1) } else { uses[id] += 1 }
            return id
        }
        var nameID: [Int] = []
        var uuidID: [Int] = []
        nameID.reserveCapacity(movers.count)
        uuidID.reserveCapacity(movers.count)
        for i in movers.indices {
            let a = note(movers[i].name)
            nameID.append(a)
            uuidID.append(movers[i].uuid != movers[i].name ? note(movers[i].uuid) : a)
        }
        var definedAt = [[Int]](repeating: [], count: uses.count)
        for (t, h) in hosts.enumerated() {
            for g in h.guests {
                if let id = keyID[g.name] { definedAt[id].append(t) }
                if g.uuid != g.name, let id = keyID[g.uuid] { definedAt[id].append(t) }
            }
        }
        var definedOn: [[Int]] = []
        var hasTwin: [Bool] = []
        definedOn.reserveCapacity(movers.count)
        hasTwin.reserveCapacity(movers.count)
        for i in movers.indices {
            let a = nameID[i]
            let b = uuidID[i]
            let at = a == b ? definedAt[a] : definedAt[a] + definedAt[b]
            definedOn.append(at.isEmpty ? [] : Array(Set(at)).sorted())
            hasTwin.append(uses[a] > 1 || uses[b] > 1)
        }
        return (definedOn, hasTwin)
    }

    /// The value in a dictionary slot reached through `subscript(_:default:)`, which inserts
    /// the default when the key is new: a lookup and an insertion with one hash.
    private static func claim(_ slot: inout Int) -> Int { slot }

    init(targets: TargetTable, movers: [Mover], reserveKiB: UInt64, spec: PlanSpec) {
        let hosts = targets.hosts
        self.hosts = hosts
        names = hosts.map(\.name)
        capacity = hosts.map { Int64(clamping: $0.memoryKiB) - Int64(clamping: reserveKiB) }
        usedBefore = hosts.map { $0.guests.reduce(0) { $0 + Int64(clamping: $1.memoryKiB) } }
        cpus = hosts.map(\.cpus)
        vcpusBefore = hosts.map { $0.guests.reduce(0) { $0 + $1.vcpus } }
        existingGroups = hosts.map { h in
            var m: [Int: String] = [:]
            guard !spec.constraints.antiAffinity.isEmpty else { return m }
            for g in h.guests {
                for i in PlacementInput.groups(of: g.name, spec) where m[i].map({ g.name < $0 }) ?? true {
                    m[i] = g.name
                }
            }
            return m
        }
        planned = Array(repeating: 0, count: hosts.count)
        plannedVCPUs = Array(repeating: 0, count: hosts.count)
        incoming = Array(repeating: [], count: hosts.count)
        target = Array(repeating: -1, count: movers.count)
        self.movers = movers
        // One pass by index: a `map` per column copied every mover (its needs and names) six
        // times over, a twentieth of a 100,000-guest plan.
        let waived = spec.constraints.allow.contains(.shutOffMemory)
        var (mem, need, vcpus, needsOf, pinOf): ([Int64], [Int64], [Int], [Int], [Int]) = ([], [], [], [], [])
        var (groupsOf, copyLoads): ([[Int]], [[CopyLoad]]) = ([], [])
        for i in movers.indices {
            let free = waived && movers[i].mode == .offline
            mem.append(free ? 0 : movers[i].mem)
            need.append(free ? Int64.min + 1 : movers[i].mem)
            vcpus.append(movers[i].vcpus)
            needsOf.append(movers[i].needs)
            groupsOf.append(movers[i].groups)
            copyLoads.append(movers[i].copyLoads)
            switch movers[i].pin {
            case .none: pinOf.append(Self.unpinned)
            case .target(let t): pinOf.append(t)
            case .elsewhere: pinOf.append(Self.pinnedElsewhere)
            }
        }
        (self.mem, self.need, self.vcpus, self.needsOf, self.pinOf) = (mem, need, vcpus, needsOf, pinOf)
        (self.groupsOf, self.copyLoads) = (groupsOf, copyLoads)
        (definedOn, hasTwin) = Self.twins(movers: movers, hosts: hosts)
        maxVCPURatio = spec.constraints.maxVCPURatio
        groupNames = spec.constraints.antiAffinity.map(\.name)

        // Targets with equal profiles form a class; classes are numbered by their first member,
        // and members stay in name order, so tree ties resolve to the smallest name.
        var classID: [TargetProfile: Int] = [:]
        var classOf: [Int] = []
        var posOf: [Int] = []
        var members: [[Int]] = []
        for (t, p) in targets.profiles.enumerated() {
            let c: Int
            if let known = classID[p] {
                c = known
            } else {
                c = members.count
                classID[p] = c
                members.append([])
            }
            classOf.append(c)
            posOf.append(members[c].count)
            members[c].append(t)
        }
        self.classOf = classOf
        self.posOf = posOf
        self.members = members
        let cap = capacity
        let used = usedBefore
        trees = members.map { FreeTree($0.map { cap[$0] - used[$0] }) }
    }

    func free(_ t: Int) -> Int64 { capacity[t] - usedBefore[t] - planned[t] }

    mutating func place(_ m: Int, on t: Int) {
        precondition(target[m] == -1)
        target[m] = t
        planned[t] += mem[m]
        plannedVCPUs[t] += vcpus[m]
        incoming[t].append(m)
        trees[classOf[t]].set(posOf[t], free(t))
        log.append((m, -1, t))
    }

    mutating func unplace(_ m: Int) {
        let t = target[m]
        precondition(t >= 0)
        target[m] = -1
        planned[t] -= mem[m]
        plannedVCPUs[t] -= vcpus[m]
        incoming[t].removeAll { $0 == m }
        trees[classOf[t]].set(posOf[t], free(t))
        log.append((m, t, -1))
    }

    /// Undoes everything logged after `mark` (a former `log.count`).
    mutating func rollback(to mark: Int) {
        while log.count > mark {
            let e = log.removeLast()
            if e.to >= 0 { unplace(e.mover) } else { place(e.mover, on: e.from) }
            log.removeLast() // the entry the undo itself appended
        }
    }

    /// Hides a target from tree queries (a guest-specific filter rejected it); `restore` undoes it.
    mutating func hide(_ t: Int) { trees[classOf[t]].set(posOf[t], FreeTree.excluded) }
    mutating func restore(_ t: Int) { trees[classOf[t]].set(posOf[t], free(t)) }
}
