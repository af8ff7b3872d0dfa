/// Where one batch of a rolling cycle stands, as the cycle's journal records it. Each stage is
/// written before its work begins, so a resume after kill -9 at any point knows what to do
/// next: continue the drain (its own journal), run the maintenance commands that did not
/// complete, wait for the hosts again, or continue returning the guests.
public struct CycleRecord: Codable, Hashable, Sendable {
    /// How far a batch got; each stage is written before its work begins.
    public enum Stage: String, Codable, Sendable, CaseIterable {
        /// Nothing done yet.
        case pending
        /// The drain runs (its migrations are in `phaseJournal`).
        case draining
        /// The hosts are empty; their maintenance commands run.
        case maintenance
        /// Waiting for libvirt to answer on the hosts again.
        case waiting
        /// The guests go back (the drain's rollback, in `phaseJournal`).
        case returning
        case done
    }
    /// The batch's number in the cycle, from 1.
    public var batch: Int
    /// The hosts the batch drains and returns to service together.
    public var hosts: [String]
    /// Where the batch stands.
    public var stage: Stage
    /// The journal of the batch's drain, once it began.
    public var phaseJournal: String?
    /// When the stage was written.
    public var updated: String
    /// What the stage's last step said (why a host is awaited, a maintenance command's failure).
    public var message: String?
    /// A batch's record; `phaseJournal` nil until its drain begins.
    public init(
        batch: Int, hosts: [String], stage: Stage, phaseJournal: String? = nil, updated: String,
        message: String? = nil
    ) {
        self.batch = batch
        self.hosts = hosts
        self.stage = stage
        self.phaseJournal = phaseJournal
        self.updated = updated
        self.message = message
    }
}
