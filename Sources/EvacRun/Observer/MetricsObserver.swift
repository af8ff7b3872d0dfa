import Dispatch
import EvacCore
import Foundation
import Prometheus

/// Keeps a Prometheus text-format file (exposition format 0.0.4) up to date while a run goes:
/// migrations by state, in flight, bytes moved, a histogram of durations, the ETA and the run's
/// identity. For node_exporter's textfile collector: point `--metrics-file` into its directory
/// with a `.prom` name; the file is written to a temporary name in the same directory and
/// renamed over the old one, so the collector never reads half a file.
///
/// Writes happen on a private queue at most every `minIntervalMs` (progress samples arrive
/// several times a second per migration), except the first and the last, which are written at
/// once: the run's end is in the file before the process exits.
public final class MetricsObserver: RunObserver, Sendable {
    private struct State {
        var screen = ProgressScreen()
        var remaining: [Int: UInt64] = [:]
        var lastWriteMs: UInt64?
        var timerArmed = false
        var writeError: String?
    }

    /// The metrics file, as `--metrics-file` named it.
    public let path: String
    private let minIntervalMs: UInt64
    private let now: @Sendable () -> UInt64
    private let queue = DispatchQueue(label: "evac.metrics")
    private let state = Locked(State())
    private let metrics = RunMetrics()

    /// An observer keeping `path` up to date at most every `minIntervalMs`; `clockMs` replaces the
    /// monotonic clock in tests.
    public init(path: String, minIntervalMs: UInt64 = 1000, clockMs: (@Sendable () -> UInt64)? = nil) {
        self.path = path
        self.minIntervalMs = minIntervalMs
        now = clockMs ?? { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
    }

    /// The last write error, if the file could not be written (the run goes on regardless).
    public var lastWriteError: String? { state.withLock { $0.writeError } }

    /// Updates the figures from `event`; writes the file at once for a run's start and end, else
    /// within `minIntervalMs`.
    public func handle(_ event: RunEvent) {
        let t = now()
        let urgent: Bool = state.withLock { s in
            _ = s.screen.apply(event, atMs: t)
            switch event {
            case .runStarted(let r):
                s.remaining = [:]
                metrics.started(r)
            case .progress(let p):
                s.remaining[p.id] = p.progress.dataRemaining
            case .step(let c):
                if c.to != nil && c.to != .running { s.remaining[c.id] = nil }
                if c.to == .done, c.kind == s.screen.kind {
                    metrics.migrationDone(bytes: c.transferredBytes ?? 0, durationMs: c.durationMs ?? 0)
                }
            case .runFinished(let r):
                metrics.finished(r)
            case .notice:
                break
            }
            metrics.update(
                counts: s.screen.counts, inFlight: s.screen.counts.running,
                remainingBytes: s.remaining.values.reduce(0, +), etaMs: s.screen.etaMs)
            switch event {
            case .runStarted, .runFinished: return true
            default: return false
            }
        }
        if urgent {
            queue.sync { self.write() }
            return
        }
        scheduleWrite(at: t)
    }

    private func scheduleWrite(at t: UInt64) {
        let wait: UInt64? = state.withLock { s in
            guard !s.timerArmed else { return nil }
            s.timerArmed = true
            return s.lastWriteMs.map { $0 + minIntervalMs > t ? $0 + minIntervalMs - t : 0 } ?? 0
        }
        guard let wait else { return }
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(wait))) { self.write() }
    }

    /// On `queue`: renders the registry and replaces the file.
    private func write() {
        let text: String = state.withLock { s in
            s.timerArmed = false
            s.lastWriteMs = now()
            metrics.touch()
            return metrics.registry.emitToString()
        }
        do {
            try Self.replace(path, with: Data(text.utf8))
            state.withLock { $0.writeError = nil }
        } catch {
            state.withLock { $0.writeError = "\(error)" }
        }
    }

    /// Writes `PATH.PID.tmp` beside the file (same file system), then renames it over `PATH`.
    /// Mode 0644: the collector usually runs as another user; the figures are not secrets.
    static func replace(_ path: String, with data: Data) throws {
        // A rename over a device or FIFO would replace it (`--metrics-file /dev/null` as root
        // would leave the machine without /dev/null): only regular files are replaced.
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            throw MetricsFileError(
                "\(path) is not a regular file; the metrics file is replaced by a rename, so give a file name")
        }
        let tmp = "\(path).\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MetricsFileError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { buf -> Bool in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        let err = errno
        close(fd)
        guard ok else {
            unlink(tmp)
            throw MetricsFileError("cannot write \(tmp): \(String(cString: strerror(err)))")
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw MetricsFileError("cannot rename \(tmp) to \(path): \(String(cString: strerror(e)))")
        }
    }
}

struct MetricsFileError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The metric families of a run, in a swift-prometheus registry. Not thread-safe on its own:
/// `MetricsObserver` calls it under its lock.
final class RunMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Seconds; from a second (an idle guest on a fast network) to an hour (the longest timeouts).
    static let durationBuckets: [Double] = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]
    static let states = ["pending", "running", "done", "failed", "blocked", "skipped", "rolled-back"]

    static func count(_ state: String, _ c: StepCounts) -> Int {
        switch state {
        case "pending": return c.pending
        case "running": return c.running
        case "done": return c.done
        case "failed": return c.failed
        case "blocked": return c.blocked
        case "skipped": return c.skipped
        default: return c.rolledBack
        }
    }

    private var info: Gauge?
    private var outcome: Gauge?
    private let byState: [Gauge]
    private let steps, inFlight, remaining, eta, startTime, endTime, lastUpdate, finishedFlag: Gauge
    private let bytes: Counter
    private let durations: ValueHistogram

    init() {
        let r = registry
        byState = Self.states.map {
            r.makeGauge(
                name: "evac_migrations", labels: [("state", $0)],
                help: "Migrations of the run by step state (running includes pre-checks).")
        }
        steps = r.makeGauge(name: "evac_run_steps", help: "Migrations in the run, settled earlier ones included.")
        inFlight = r.makeGauge(name: "evac_migrations_in_flight", help: "Migrations being checked or running now.")
        remaining = r.makeGauge(
            name: "evac_migrations_remaining_bytes",
            help: "Bytes the running migrations still have to send (last sample).")
        eta = r.makeGauge(
            name: "evac_run_eta_seconds",
            help: "Estimated seconds until the run ends (mean duration so far); -1 before one migration ended.")
        startTime = r.makeGauge(name: "evac_run_start_timestamp_seconds", help: "When the run started, Unix time.")
        endTime = r.makeGauge(
            name: "evac_run_end_timestamp_seconds", help: "When the run ended, Unix time; 0 while it runs.")
        lastUpdate = r.makeGauge(
            name: "evac_metrics_last_update_timestamp_seconds", help: "When evac last wrote this file, Unix time.")
        finishedFlag = r.makeGauge(
            name: "evac_run_finished", help: "1 once the run ended (see evac_run_outcome), else 0.")
        bytes = r.makeCounter(
            name: "evac_migrated_bytes_total", help: "Bytes transferred by migrations that ended done in this run.")
        durations = r.makeValueHistogram(
            name: "evac_migration_duration_seconds", buckets: Self.durationBuckets,
            help: "Durations of the migrations that ended done in this run, as the hypervisor measured them.")
        eta.set(to: -1)
    }

    func started(_ s: RunStart) {
        if let info { registry.unregisterGauge(info) }
        info = registry.makeGauge(
            name: "evac_run_info",
            labels: [
                ("plan", s.planName), ("plan_hash", String(s.planHash.prefix(12))),
                ("kind", s.kind.rawValue), ("run", String(s.runID)),
            ],
            help: "The run this file describes (always 1).")
        info?.set(to: 1)
        startTime.set(to: Date().timeIntervalSince1970)
        endTime.set(to: 0)
        finishedFlag.set(to: 0)
        steps.set(to: Double(s.steps))
    }

    func migrationDone(bytes b: UInt64, durationMs: UInt64) {
        bytes.increment(by: Double(b))
        durations.record(Double(durationMs) / 1000)
    }

    func finished(_ s: RunSummary) {
        if let outcome { registry.unregisterGauge(outcome) }
        outcome = registry.makeGauge(
            name: "evac_run_outcome", labels: [("status", s.status.rawValue)],
            help: "How the run ended: the status label (all-done, partial, interrupted, cannot-start, journal-failed).")
        outcome?.set(to: 1)
        endTime.set(to: Date().timeIntervalSince1970)
        finishedFlag.set(to: 1)
    }

    func update(counts c: StepCounts, inFlight n: Int, remainingBytes: UInt64, etaMs: UInt64?) {
        for (g, s) in zip(byState, Self.states) { g.set(to: Double(Self.count(s, c))) }
        inFlight.set(to: Double(n))
        remaining.set(to: Double(remainingBytes))
        eta.set(to: etaMs.map { Double($0) / 1000 } ?? -1)
    }

    func touch() { lastUpdate.set(to: Date().timeIntervalSince1970) }
}
