/// Why a journal cannot be opened or written.
public enum JournalError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Another evac process holds the journal's lock.
    case locked(path: String, holder: String)
    /// The journal records another plan (hash); resume refuses unless forced.
    case otherPlan(path: String, journalHash: String, planHash: String)
    /// A file-system call on the journal or a file beside it failed; the message says what and why.
    case io(path: String, String)
    /// SQLite could not open, read or write the journal.
    case database(path: String, String)
    /// A state directory or file that another user could have planted or could change.
    case unsafe(path: String, String, fix: String)
    /// The journal fails a check of what evac sealed in it (its stored plan, its hash).
    case untrusted(path: String, String)
    /// Thrown by a test's crash hook: the simulated process is gone.
    case simulatedCrash(point: Int)

    /// The message the CLI prints: the journal's path, what is wrong and, where there is one, the fix.
    public var description: String {
        switch self {
        case .locked(let path, let holder): return "journal \(path) is locked by \(holder)"
        case .otherPlan(let path, let j, let p):
            return "journal \(path) belongs to plan \(j.prefix(12)), not \(p.prefix(12)); use --force to use it anyway"
        case .io(let path, let m): return "journal \(path): \(m)"
        case .database(let path, let m): return "journal \(path): \(m)"
        case .unsafe(let path, let m, let fix): return "\(path): \(m)\n    help: \(fix)"
        case .untrusted(let path, let m):
            return
                "journal \(path) is not trusted: \(m)\n    help: evac acts only on journals it wrote and sealed; look at it with `sqlite3 \(path)`, and move it out of the state directory"
        case .simulatedCrash(let k): return "simulated crash at journal write \(k)"
        }
    }
}
