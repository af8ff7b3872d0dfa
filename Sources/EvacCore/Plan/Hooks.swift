/// Where in a run a hook runs.
public enum HookPoint: String, Hashable, Sendable, Codable, CaseIterable {
    /// Before a guest's migration starts (after its pre-checks passed).
    case beforeMigration = "before-migration"
    /// After a guest's migration ended (done or failed), or after a before-migration hook of
    /// the same pass failed: where a load balancer takes the guest back.
    case afterMigration = "after-migration"
    /// Before the first migration off a source host starts.
    case beforeDrain = "before-drain"
    /// Once every migration off a source host has ended.
    case afterDrain = "after-drain"
    /// A rolling cycle's host, once it is empty (`rolling.maintenance`).
    case maintenance

    /// Whether the point runs once per guest (around its migration) rather than once per host.
    public var isPerGuest: Bool { self == .beforeMigration || self == .afterMigration }
}

/// What a hook that exits non-zero (or is killed at its deadline) does to the run.
public enum HookFailurePolicy: String, Hashable, Sendable, Codable, CaseIterable {
    /// Start no new migration; those in flight finish. The run ends partial.
    case stop
    /// Leave the guest (before-migration) or the host (before-drain) where it is: its
    /// migrations are blocked with the hook's failure as the reason; the rest go on. After a
    /// migration or a drain there is nothing left to skip, so it is the same as `continue`.
    case skip
    /// Record the failure and go on as if the hook had succeeded.
    case `continue`
}

/// One command a plan runs at a hook point. `run` is an argv list executed directly
/// (posix_spawn, no shell): the first element is the program (an absolute path, or a name
/// looked up in PATH), the others its arguments, passed as they are.
public struct HookSpec: Hashable, Sendable, Codable {
    /// The hook's name in the plan: the journal keys its runs by it.
    public var name: String
    /// The program and its arguments (never through a shell).
    public var run: [String]
    /// Killed (its whole process group) when it has not exited by then.
    public var timeoutMs: UInt64
    /// What a failure (or timeout) does to the run: continue, skip the guest or host, or stop.
    public var onFailure: HookFailurePolicy
    /// Guest name patterns (per-guest points) or host names (drain points) the hook is for;
    /// nil = every guest, or every source host.
    public var only: [String]?
    /// Run again even when a previous process already completed it for the same guest pass
    /// or host (the default is never: a resume does not repeat what succeeded).
    public var rerun: Bool

    /// A hook; the defaults wait 60 s, stop the run on failure, apply to everyone, never rerun.
    public init(
        name: String, run: [String], timeoutMs: UInt64 = HookSpec.defaultTimeoutMs,
        onFailure: HookFailurePolicy = .stop, only: [String]? = nil, rerun: Bool = false
    ) {
        self.name = name
        self.run = run
        self.timeoutMs = timeoutMs
        self.onFailure = onFailure
        self.only = only
        self.rerun = rerun
    }

    /// One minute: long enough for a load balancer to drain a backend.
    public static let defaultTimeoutMs: UInt64 = 60_000
    /// 1 s to 24 h: a hook with no deadline could hold a drain forever.
    public static let timeoutBoundsMs: ClosedRange<UInt64> = 1000...86_400_000
    /// Program and arguments together; more is not a command, it is data.
    public static let maxArguments = 256

    /// The shell's name when `argv` runs a shell with a `-c` command string (evac never hands
    /// text to a shell, and a plan must not make it), else nil.
    public static func shellCommandString(_ argv: [String]) -> String? {
        guard let first = argv.first else { return nil }
        let program = first.split(separator: "/").last.map(String.init) ?? first
        guard ["sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"].contains(program) else { return nil }
        let takesString = argv.dropFirst().contains { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.contains("c") }
        return takesString ? program : nil
    }

    /// Whether the hook is for this guest (per-guest points) or host (drain points).
    public func applies(to name: String) -> Bool {
        guard let only else { return true }
        return only.contains { Glob($0).matches(name) }
    }

    /// What is wrong with a hook read from a plan file (plan files are input too).
    public var problems: [String] {
        var out: [String] = []
        if run.isEmpty || run.count > Self.maxArguments {
            out.append("hook \(name): run needs 1 to \(Self.maxArguments) elements")
        }
        if run.first?.isEmpty ?? false { out.append("hook \(name): the program is empty") }
        if run.contains(where: { $0.utf8.contains(0) }) { out.append("hook \(name): an argument holds a NUL byte") }
        if let shell = Self.shellCommandString(run) {
            out.append("hook \(name): hands a command string to \(shell) -c")
        }
        if let p = run.first, p.contains("/") && !p.hasPrefix("/") {
            out.append("hook \(name): the program is a relative path")
        }
        if !Self.timeoutBoundsMs.contains(timeoutMs) {
            out.append("hook \(name): timeout \(timeoutMs)ms is out of range")
        }
        return out
    }
}

/// The hooks of a plan, by point, each list in the order they run.
public struct HookSet: Hashable, Sendable, Codable {
    /// Hooks run before a guest's migration starts (a failure can keep it where it is).
    public var beforeMigration: [HookSpec] = []
    /// Hooks run once a guest's migration ended, done or failed.
    public var afterMigration: [HookSpec] = []
    /// Hooks run on a source host before its first migration starts.
    public var beforeDrain: [HookSpec] = []
    /// Hooks run on a source host once its last migration ended.
    public var afterDrain: [HookSpec] = []
    /// A rolling cycle's maintenance commands (read from `rolling.maintenance`, not `hooks:`).
    public var maintenance: [HookSpec] = []
    /// No hooks.
    public init() {}

    public subscript(point: HookPoint) -> [HookSpec] {
        get {
            switch point {
            case .beforeMigration: return beforeMigration
            case .afterMigration: return afterMigration
            case .beforeDrain: return beforeDrain
            case .afterDrain: return afterDrain
            case .maintenance: return maintenance
            }
        }
        set {
            switch point {
            case .beforeMigration: beforeMigration = newValue
            case .afterMigration: afterMigration = newValue
            case .beforeDrain: beforeDrain = newValue
            case .afterDrain: afterDrain = newValue
            case .maintenance: maintenance = newValue
            }
        }
    }

    /// Whether the plan has no hook at any point.
    public var isEmpty: Bool { HookPoint.allCases.allSatisfy { self[$0].isEmpty } }
    /// Whether any per-guest hook is for this guest.
    public func hasGuestHooks(for guest: String) -> Bool {
        (beforeMigration + afterMigration).contains { $0.applies(to: guest) }
    }
    /// What is out of bounds in any hook (a timeout, an empty command), for the plan diagnostics.
    public var problems: [String] { HookPoint.allCases.flatMap { self[$0].flatMap(\.problems) } }
}
