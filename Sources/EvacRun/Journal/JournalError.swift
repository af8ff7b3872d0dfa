/// Why a journal cannot be opened or written.
public enum JournalError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Another evac process holds the journal's lock.
    case locked(path: String, holder: String)
    /// The journal records another plan (hash); resume refuses unless forced.
    case otherPlan(path: String, journalHash: String, planHash: String)
    case io(path: String, String)
    case database(path: String, String)
    /// Thrown by a test's crash hook: the simulated process is gone.
    case simulatedCrash(point: Int)

    public var description: String {
        switch self {
        case .locked(let path, let holder): return "journal \(path) is locked by \(holder)"
        case .otherPlan(let path, let j, let p):
            return "journal \(path) belongs to plan \(j.prefix(12)), not \(p.prefix(12)); use --force to use it anyway"
        case .io(let path, let m): return "journal \(path): \(m)"
        case .database(let path, let m): return "journal \(path): \(m)"
        case .simulatedCrash(let k): return "simulated crash at journal write \(k)"
        }
    }
}
