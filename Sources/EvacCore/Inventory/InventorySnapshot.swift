import Foundation

extension Inventory {
    /// The largest snapshot read: about twice a 100,000-guest fleet (~1.3 KB a guest).
    public static let maxSnapshotBytes = 256 << 20
    /// At most this many guests on one host, hosts in one snapshot.
    public static let maxGuestsPerHost = 1 << 16
    /// At most this many hosts in one snapshot.
    public static let maxHosts = 1 << 20

    /// Decodes and checks a saved inventory (`evac inventory -o FILE`). A snapshot is input: it
    /// is refused when a figure is out of range (negative CPUs, more memory than any host has),
    /// a host is listed twice, or a URI breaks the URI policy (`allowed` gives the risks the
    /// plan accepted for a host, by name).
    public static func decodeSnapshot(
        _ data: Data, allowed: (String) -> Set<URIPolicy.Risk> = { _ in [] }
    ) -> Result<Inventory, PlanFileError> {
        decodeSnapshot(bytes: data, allowed: allowed)
    }

    /// The same, from the bytes as read (a 100 MB snapshot is not copied into a `Data` first).
    public static func decodeSnapshot<Bytes: ContiguousBytes>(
        bytes: Bytes, allowed: (String) -> Set<URIPolicy.Risk> = { _ in [] }
    )
        -> Result<Inventory, PlanFileError>
    {
        let count = bytes.withUnsafeBytes { $0.count }
        guard count <= maxSnapshotBytes else {
            return .failure(
                PlanFileError("it is \(count) bytes; evac reads snapshots of at most \(maxSnapshotBytes >> 20) MiB"))
        }
        let inventory: Inventory
        switch bytes.withUnsafeBytes({ raw in
            Result { () throws(SnapshotDecoder.Failure) in try SnapshotDecoder.decode(raw) }
        }) {
        case .success(let inv): inventory = inv
        case .failure(let error):
            return .failure(
                PlanFileError(
                    "not an evac inventory snapshot: \(TerminalText.escape(error.message))",
                    help: "write one with `evac inventory PLAN.yaml -o FILE`"))
        }
        guard inventory.formatVersion == 1 else {
            return .failure(
                PlanFileError("inventory format \(inventory.formatVersion) is not 1; this evac reads format 1"))
        }
        if let p = inventory.problems(allowed: allowed).first {
            return .failure(
                PlanFileError(
                    "snapshot is inconsistent: \(p)", help: "take a new one with `evac inventory PLAN.yaml -o FILE`"))
        }
        return .success(inventory)
    }

    /// What placement could not take at face value: also checked on a live inventory, since a
    /// daemon's answers are input too.
    public func problems(allowed: (String) -> Set<URIPolicy.Risk> = { _ in [] }) -> [String] {
        var out: [String] = []
        if hosts.count > Self.maxHosts { out.append("it lists \(hosts.count) hosts") }
        var names: Set<String> = []
        for h in hosts {
            let which = "host '\(TerminalText.escape(h.name))'"
            if !names.insert(h.name).inserted { out.append("\(which) is listed twice") }
            for p in URIPolicy.check(h.uri, allowed: allowed(h.name)) { out.append("\(which): \(p.message)") }
            if !(1...PlanFile.maxCPUs).contains(h.cpus) { out.append("\(which) has \(h.cpus) CPUs") }
            if h.memoryKiB > PlanFile.maxMemoryKiB || h.freeMemoryKiB > PlanFile.maxMemoryKiB {
                out.append("\(which) has memory out of range")
            }
            if h.guests.count > Self.maxGuestsPerHost { out.append("\(which) has \(h.guests.count) guests") }
            for g in h.guests {
                if !(0...PlanFile.maxCPUs).contains(g.vcpus) {
                    out.append("guest '\(TerminalText.escape(g.name))' on \(which) has \(g.vcpus) vCPUs")
                }
                if g.memoryKiB > PlanFile.maxMemoryKiB || g.currentMemoryKiB > PlanFile.maxMemoryKiB {
                    out.append("guest '\(TerminalText.escape(g.name))' on \(which) has memory out of range")
                }
            }
        }
        for u in unreachable {
            if !names.insert(u.name).inserted { out.append("host '\(TerminalText.escape(u.name))' is listed twice") }
            for p in URIPolicy.check(u.uri, allowed: allowed(u.name)) {
                out.append("host '\(TerminalText.escape(u.name))': \(p.message)")
            }
        }
        return out
    }
}
