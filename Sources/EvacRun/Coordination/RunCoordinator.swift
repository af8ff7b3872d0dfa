/// What other runs of the fleet hold on one target host: capacity reserved by their migrations in
/// flight (and planned, by runs admitted before this one), and whether another run drains it.
/// Read by the pre-check before it inspects the target; `version` ties the decision to what was
/// read, so that a reservation is only taken when nothing changed on the target in between.
public struct TargetCommitments: Sendable, Hashable {
    /// One migration of another run onto the target.
    public struct Entry: Sendable, Hashable {
        /// The guest's libvirt UUID: a migration counted by two runs (it landed in between) counts once.
        public var uuid: String
        /// The guest's name, for the pre-check's refusal.
        public var guest: String
        /// Memory it takes on the target.
        public var memoryKiB: UInt64
        /// vCPUs it takes on the target.
        public var vcpus: Int
        /// The plan that holds it ("rack12 (in flight)").
        public var holder: String
        /// Another run's migration of `guest` onto the target, held by `holder`.
        public init(uuid: String, guest: String, memoryKiB: UInt64, vcpus: Int, holder: String) {
            self.uuid = uuid
            self.guest = guest
            self.memoryKiB = memoryKiB
            self.vcpus = vcpus
            self.holder = holder
        }
    }

    /// Every migration of other runs onto the target, in flight or admitted.
    public var entries: [Entry]
    /// "plan rack12 (evac apply, pid 4242 on bastion-1)" when another run drains this host.
    public var drainedBy: String?
    /// The target's reservation version when read; the journal's claim checks it. nil: no
    /// coordinator (nothing to check).
    public var version: Int64?

    /// What others hold; the defaults are nothing, no drain, no coordinator.
    public init(entries: [Entry] = [], drainedBy: String? = nil, version: Int64? = nil) {
        self.entries = entries
        self.drainedBy = drainedBy
        self.version = version
    }

    /// Nothing held by anyone else: what the local coordinator always answers.
    public static let none = TargetCommitments()

    /// Memory all entries take together (saturating: the rows are another process's writes).
    public var memoryKiB: UInt64 {
        entries.reduce(0) { $0.addingReportingOverflow($1.memoryKiB).overflow ? .max : $0 + $1.memoryKiB }
    }
    /// vCPUs all entries take together (saturating, as `memoryKiB`).
    public var vcpus: Int { entries.reduce(0) { $0.addingReportingOverflow($1.vcpus).overflow ? .max : $0 + $1.vcpus } }
}

/// Host leases and capacity reservations shared between the runs of a fleet (DESIGN.md, "Beyond
/// one machine"). The executor asks it what other runs hold on a target before each pre-check;
/// everything it writes (leases when a run begins, the reservation taken with `running`, released
/// when a step lands or fails, leases released when the run ends) goes through the run's journal
/// in the same transactions as the journal's own rows (see `JournalBatch.claim`).
///
/// `LocalCoordinator` is the single-operator default: nobody else to coordinate with.
public protocol RunCoordinator: Sendable {
    /// What other runs hold on `target` now. Throws when the coordinator cannot be reached
    /// within its deadline; the pre-check then starts nothing.
    func commitments(on target: String) async throws(CoordinatorError) -> TargetCommitments
}

/// No coordinator: one operator, one machine; the in-process ledger is the whole truth.
public struct LocalCoordinator: RunCoordinator {
    /// The coordinator of a run that shares nothing.
    public init() {}
    /// Always `.none`: no other run holds anything.
    public func commitments(on target: String) async throws(CoordinatorError) -> TargetCommitments { .none }
}

/// A reservation of a target's memory and vCPUs, taken in the same transaction that marks its
/// step running. The journal refuses it (`CoordinatorError.changed`) when the target's
/// reservations changed since the pre-check read them (`seen`): the pre-check then runs again.
public struct CapacityClaim: Sendable, Hashable {
    /// The target host the room is taken on.
    public var target: String
    /// The guest's UUID, by which the reservation is released when the step ends.
    public var uuid: String
    /// Memory reserved on the target.
    public var memoryKiB: UInt64
    /// vCPUs reserved on the target.
    public var vcpus: Int
    /// The target's reservation version the pre-check read; nil without a coordinator.
    public var seen: Int64?
    /// A claim of `memoryKiB` and `vcpus` on `target` for guest `uuid`, valid while the version is `seen`.
    public init(target: String, uuid: String, memoryKiB: UInt64, vcpus: Int, seen: Int64?) {
        self.target = target
        self.uuid = uuid
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.seen = seen
    }
}

/// Why the coordinator refused or could not answer.
public enum CoordinatorError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The database did not answer within the wait (`what` is the operation, `why` the last error).
    case unreachable(server: String, waited: String, why: String)
    /// A lease is held by another run: a host it drains, or this plan run elsewhere.
    case leased(String)
    /// This run's lease was taken over (it expired and another process resumed the run).
    case leaseLost(String)
    /// The target's reservations changed since the pre-check read them; check again.
    case changed(target: String)
    /// The database holds something evac did not write, or refused a statement.
    case database(String)

    /// The refusal in words, for the step's reason and the run's message.
    public var description: String {
        switch self {
        case .unreachable(let server, let waited, let why):
            return "coordinator \(server) did not answer for \(waited): \(why)"
        case .leased(let m), .leaseLost(let m), .database(let m): return m
        case .changed(let t): return "reservations on \(t) changed while checking it"
        }
    }
}
