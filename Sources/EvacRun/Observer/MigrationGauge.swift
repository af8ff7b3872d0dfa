import EvacCore

/// One in-flight migration's live figures, from the data actually left rather than from what
/// was sent: libvirt's `data_processed ÷ data_total` reaches 100 % while a dirtying guest still
/// has tens of MiB to resend, and stays near 0 % for an idle guest, whose zero pages cost a few
/// bytes each on the wire. Fed job-statistics samples in order, it keeps the last two; its
/// clock is the job's own `elapsedMs`, so the same figures come out of a live run and of the
/// samples a follower reads back from the journal.
public struct MigrationGauge: Sendable, Hashable {
    /// The guest's memory as the plan knows it: what is left before libvirt reports the memory
    /// copy (a storage copy goes first, and early samples have no figures yet).
    public var expectedMemoryBytes: UInt64
    /// The newest sample, and the one before it (for the rate).
    public private(set) var last: MigrationProgress?
    private var previous: MigrationProgress?

    /// A gauge with no sample yet, for a guest of `expectedMemoryBytes` (0 when unknown).
    public init(expectedMemoryBytes: UInt64 = 0) { self.expectedMemoryBytes = expectedMemoryBytes }

    /// Takes the next sample. A sample older than the newest (a follower's re-read) is ignored;
    /// one whose clock went back is a new attempt, and starts the gauge over.
    public mutating func add(_ p: MigrationProgress) {
        if let l = last, p.elapsedMs == l.elapsedMs, p == l { return }
        if let l = last, p.elapsedMs < l.elapsedMs {
            previous = nil
        } else {
            previous = last
        }
        last = p
    }

    /// Memory and disk figures of a sample, with the plan's memory for a copy not begun and
    /// `data_*` read as memory when the parts are not reported.
    struct Parts: Hashable {
        var memoryTotal: UInt64, memoryRemaining: UInt64, diskTotal: UInt64, diskRemaining: UInt64
    }

    func parts(_ p: MigrationProgress) -> Parts {
        var memTotal = p.memoryTotal
        var memLeft = p.memoryRemaining
        var diskTotal = p.diskTotal
        var diskLeft = p.diskRemaining
        if memTotal == 0 && diskTotal == 0 && p.dataTotal > 0 {
            memTotal = p.dataTotal
            memLeft = p.dataRemaining
        } else if diskTotal == 0 && p.dataTotal > memTotal {
            // Disk counters missing but data counts more than memory: the rest is disk.
            diskTotal = p.dataTotal - memTotal
            diskLeft = p.dataRemaining > memLeft ? p.dataRemaining - memLeft : 0
        }
        if memTotal == 0 {
            // The memory copy has not begun (or nothing was reported): all of it is left.
            memTotal = expectedMemoryBytes
            memLeft = expectedMemoryBytes
        }
        return Parts(
            memoryTotal: memTotal, memoryRemaining: min(memLeft, memTotal), diskTotal: diskTotal,
            diskRemaining: min(diskLeft, diskTotal))
    }

    /// Bytes to move in all: memory (once) and disks.
    public var totalBytes: UInt64 {
        let p = last.map(parts) ?? parts(MigrationProgress())
        return p.memoryTotal.addingReportingOverflow(p.diskTotal).partialValue
    }

    /// Bytes still to move now: memory not sent yet or dirtied since, and disk not copied yet.
    public var remainingBytes: UInt64 {
        let p = last.map(parts) ?? parts(MigrationProgress())
        return p.memoryRemaining + p.diskRemaining
    }

    /// Whole percent of the data covered; 99 at most while anything is left, so 100 means the
    /// copy is over (the guest switches host).
    public var percent: Int {
        let total = totalBytes
        guard total > 0 else { return 0 }
        let left = min(remainingBytes, total)
        let p = Int((Double(total - left) / Double(total) * 100).rounded(.down))
        return left > 0 ? min(99, p) : 100
    }

    /// Bytes the job has dealt with so far: sent bytes plus the pages sent as constant (at
    /// their size, not their few bytes on the wire), so an idle guest's rate moves too.
    static func handled(_ p: MigrationProgress) -> Double {
        let page = p.pageSize > 0 ? p.pageSize : 4096
        return Double(p.dataProcessed) + Double(p.memoryConstantPages) * Double(page)
    }

    /// Bytes per second dealt with between the last two samples (on the job's clock), or since
    /// the start when there is one sample; nil before any time has passed.
    public var rateBytesPerSec: Double? {
        guard let l = last else { return nil }
        if let p = previous, l.elapsedMs > p.elapsedMs, Self.handled(l) >= Self.handled(p) {
            return (Self.handled(l) - Self.handled(p)) * 1000 / Double(l.elapsedMs - p.elapsedMs)
        }
        guard l.elapsedMs > 0 else { return nil }
        return Self.handled(l) * 1000 / Double(l.elapsedMs)
    }

    /// Bytes the guest dirties per second (libvirt counts pages).
    public var dirtyBytesPerSec: Double {
        guard let l = last else { return 0 }
        return Double(l.dirtyRate) * Double(l.pageSize > 0 ? l.pageSize : 4096)
    }

    /// Whether what is left shrinks: the copy outruns the dirtying. Unknown (true) without a rate.
    public var converging: Bool {
        guard let r = rateBytesPerSec, r > 0 || dirtyBytesPerSec > 0 else { return true }
        return r > dirtyBytesPerSec || remainingBytes == 0
    }

    /// Milliseconds until what is left is sent at the current rate net of the dirtying; nil
    /// without a rate, or while the guest dirties as fast as the copy goes (it would never end
    /// in pre-copy: the convergence ladder's business).
    public var remainingMs: Double? {
        guard let r = rateBytesPerSec else { return nil }
        let left = Double(remainingBytes)
        if left == 0 { return 0 }
        let net = r - dirtyBytesPerSec
        guard net > 0 else { return nil }
        return left * 1000 / net
    }

    /// The job's own elapsed time, in milliseconds.
    public var elapsedMs: UInt64 { last?.elapsedMs ?? 0 }
}
