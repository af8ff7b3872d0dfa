internal import CLibvirt
import Foundation

/// libvirt's dirty-rate calculation over a host's running guests, for the duration model.
///
/// All running guests of a host are started together (`virDomainStartDirtyRateCalc`, one period
/// of `periodSeconds`), and after it one `virDomainListGetStats`
/// (VIR_DOMAIN_STATS_DIRTYRATE) reads the results: the host's read takes about one period more
/// at most, whatever its guest count. Every call runs under the reading thread's deadlines.
///
/// Mode: page-sampling (libvirt's default; QEMU hashes a sample of pages at the start and end of
/// the period). Not dirty-bitmap: on the lab (libvirt 9.0, QEMU 7.2) a dirty-bitmap calculation
/// on a TCG guest that was writing its memory killed the guest's QEMU ("Unable to read from
/// monitor: Connection reset by peer"), and reading the inventory must never harm a guest.
/// Not dirty-ring: it needs KVM's dirty ring, off by default ("requires dirty-ring feature
/// enabled"). Page-sampling measured the lab's dirtying guest (64 MiB, TCG) at 58 MiB/s and
/// its idle guests at 0. Page-sampling counts a page once per period however often it is
/// written, so a rate reads at most the guest's memory a second.
///
/// A guest whose calculation cannot start (the test driver, a libvirt before 7.2, a QEMU
/// without the command, a guest that stopped) or has not finished is *unknown* (nil), never 0:
/// the model would call it idle.
struct DirtyRateSample {
    /// QEMU measures whole seconds; one is enough for a rate and keeps the plan quick.
    static let periodSeconds: Int32 = 1
    /// `dirtyrate.calc_status` of a finished calculation (VIR_DOMAIN_DIRTYRATE_MEASURED).
    static let measuredStatus = String(VIR_DOMAIN_DIRTYRATE_MEASURED.rawValue)

    let connection: LibvirtConnection
    /// The guests whose calculation started.
    private(set) var started: [LibvirtDomain] = []
    private let clock = ContinuousClock()
    private var startedAt: ContinuousClock.Instant

    /// Starts the calculation on every guest in `domains`, which the caller read as running
    /// (a guest that stopped since refuses it; the error is consumed).
    init(connection: LibvirtConnection, domains: [LibvirtDomain]) {
        self.connection = connection
        startedAt = clock.now
        for dom in domains {
            let flags = VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING.rawValue
            let ok = Libvirt.optional("virDomainStartDirtyRateCalc(\(dom.name))", uri: connection.uri) {
                () throws(LibvirtError) in
                try Libvirt.status("virDomainStartDirtyRateCalc(\(dom.name))", uri: connection.uri) {
                    virDomainStartDirtyRateCalc(dom.handle, Self.periodSeconds, flags)
                }
            }
            if ok != nil { started.append(dom) }
        }
    }

    /// What one guest's stats record said: its dirty rate (nil until measured) and its QEMU's
    /// resident memory (`balloon.rss`, read in the same call; nil when libvirt gave none).
    struct Reading: Hashable, Sendable {
        var bytesPerSec: UInt64?
        var residentKiB: UInt64?
    }

    /// Waits out the period (less what the caller spent meanwhile), then reads the rates by
    /// guest UUID (bytes a second; nil for a guest whose calculation did not finish). One more
    /// short wait if some are still measuring (QEMU's timer and the RPC are not exact), no more.
    func readings() -> [String: Reading] {
        guard !started.isEmpty else { return [:] }
        let period = Duration.seconds(Int(Self.periodSeconds))
        let left = startedAt + period + .milliseconds(100) - clock.now
        if left > .zero { Thread.sleep(forTimeInterval: Self.seconds(left)) }
        var out = read()
        if out.values.filter({ $0.bytesPerSec != nil }).count < started.count {
            Thread.sleep(forTimeInterval: 0.5)
            out.merge(read()) { old, new in
                Reading(
                    bytesPerSec: new.bytesPerSec ?? old.bytesPerSec, residentKiB: new.residentKiB ?? old.residentKiB)
            }
        }
        return out
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// One stats read (dirty rate and balloon: `balloon.rss` is the QEMU process's resident
    /// memory, which libvirt reports with or without a balloon device).
    private func read() -> [String: Reading] {
        var handles: [OpaquePointer?] = started.map(\.handle) + [nil] // NULL-terminated
        var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
        let n = Libvirt.optional("virDomainListGetStats(dirtyrate)", uri: connection.uri) {
            () throws(LibvirtError) in
            try Libvirt.status("virDomainListGetStats(dirtyrate)", uri: connection.uri) {
                virDomainListGetStats(
                    &handles, VIR_DOMAIN_STATS_DIRTYRATE.rawValue | VIR_DOMAIN_STATS_BALLOON.rawValue, &records, 0)
            }
        }
        guard let n, let records else { return [:] }
        defer { virDomainStatsRecordListFree(records) }
        var out: [String: Reading] = [:]
        for i in 0..<Int(n) {
            guard let record = records[i]?.pointee, let dom = record.dom else { continue }
            let fields = typedParamsDictionary(record.params, record.nparams)
            let reading = Reading(bytesPerSec: Self.bytesPerSecond(fields), residentKiB: Self.residentKiB(fields))
            guard reading.bytesPerSec != nil || reading.residentKiB != nil else { continue }
            // The record holds its own reference to the domain, freed with the list.
            var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
            let named = Libvirt.optional("virDomainGetUUIDString(stats record)", uri: connection.uri) {
                () throws(LibvirtError) in
                try Libvirt.status("virDomainGetUUIDString(stats record)", uri: connection.uri) {
                    virDomainGetUUIDString(dom, &buf)
                }
            }
            guard named != nil else { continue }
            out[String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)] = reading
        }
        return out
    }

    /// `balloon.rss` (KiB), nil when absent or not a number.
    static func residentKiB(_ fields: [String: String]) -> UInt64? {
        fields["balloon.rss"].flatMap { UInt64($0) }
    }

    /// The rate from one guest's `dirtyrate.*` fields, bytes a second; nil unless measured.
    /// QEMU computes `megabytes_per_second` as dirtied pages × page size ÷ 2^20 ÷ period.
    static func bytesPerSecond(_ fields: [String: String]) -> UInt64? {
        guard fields["dirtyrate.calc_status"] == measuredStatus,
            let text = fields["dirtyrate.megabytes_per_second"], let mib = Int64(text), mib >= 0
        else { return nil }
        let (bytes, overflow) = UInt64(mib).multipliedReportingOverflow(by: 1 << 20)
        return overflow ? nil : bytes
    }
}
