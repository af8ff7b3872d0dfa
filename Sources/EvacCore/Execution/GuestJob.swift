/// A job libvirt is running on a guest (`virDomainGetJobStats` with a type other than none),
/// as a resume needs to know it: is a migration of that guest still under way?
public struct GuestJob: Hashable, Sendable {
    /// What the job does (libvirt's `operation` field, `virDomainJobOperation`).
    public enum Operation: String, Hashable, Sendable {
        case outgoingMigration = "an outgoing migration job"
        case incomingMigration = "an incoming migration job"
        /// A save, dump, snapshot, backup… (not a migration).
        case other = "a job other than a migration"
        /// libvirt did not say (the field is absent before libvirt 3.3).
        case unknown = "a job of unknown kind"
    }

    public var operation: Operation
    /// How long the job has run, when libvirt says (`time_elapsed`).
    public var elapsedMs: UInt64?

    public init(operation: Operation, elapsedMs: UInt64? = nil) {
        self.operation = operation
        self.elapsedMs = elapsedMs
    }

    /// Whether this job may be the migration that moves the guest off the host it runs on: an
    /// outgoing one, or one whose kind libvirt does not report.
    public var mayBeOutgoingMigration: Bool { operation == .outgoingMigration || operation == .unknown }

    /// "an outgoing migration job (running 12 s)".
    public var description: String {
        let running = elapsedMs.map { " (running \($0 / 1000) s)" } ?? ""
        return operation.rawValue + running
    }
}
