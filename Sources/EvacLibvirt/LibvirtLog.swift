import Dispatch
import EvacCore
import EvacLog

/// The libvirt module's log lines: calls and operations with their timings. URIs are logged
/// only redacted (`LibvirtConnection.uri`, `redactURI`): a URI may carry a password.
enum LibvirtLog {
    static let log = EvacLog.logger("evac.libvirt")

    static func start() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func ms(since start: UInt64) -> String {
        let ns = DispatchTime.now().uptimeNanoseconds &- start
        return String(Double(ns / 10_000) / 100) + " ms"
    }

    /// One libvirt C call (e.g. virConnectOpenAuth) and how it ended.
    static func call(_ name: String, uri: String, since start: UInt64, error: LibvirtError? = nil) {
        if let error {
            log.debug("\(name) failed after \(ms(since: start)): \(error.description)", metadata: ["uri": "\(uri)"])
        } else {
            log.debug("\(name) took \(ms(since: start))", metadata: ["uri": "\(uri)"])
        }
    }

    /// One of the executor's operations on a host (locate, inspect, cpu-compare, …): the
    /// connection look-up and every libvirt call it made.
    static func operation(_ what: String, host: String, since start: UInt64, failure: HypervisorError?) {
        if let failure {
            log.debug(
                "\(what) on \(host) failed after \(ms(since: start)): \(failure.kind.rawValue): \(failure.message)")
        } else {
            log.debug("\(what) on \(host) took \(ms(since: start))")
        }
    }

    static func migration(_ r: MigrationRequest, since start: UInt64, result: Result<MigrationOutcome, HypervisorError>)
    {
        switch result {
        case .success(let o):
            log.debug(
                "migrate \(r.guestName) \(r.source.name) → \(r.target.name) done in \(ms(since: start))",
                metadata: [
                    "transferred_bytes": "\(o.transferredBytes)",
                    "downtime_ms": "\(o.downtimeMs.map(String.init) ?? "-")",
                ])
        case .failure(let e):
            log.debug(
                "migrate \(r.guestName) \(r.source.name) → \(r.target.name) ended after \(ms(since: start)): \(e.kind.rawValue): \(e.message)"
            )
        }
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
