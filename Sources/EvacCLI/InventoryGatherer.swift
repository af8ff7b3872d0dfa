import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

/// Gets the inventory a plan is placed on: live from libvirt, or from a saved snapshot.
enum InventoryGatherer {
    struct Outcome {
        var inventory: Inventory
        var diagnostics: [Diagnostic]
        /// A source could not be read: nothing can be planned for it.
        var sourceUnreachable: Bool { diagnostics.contains { $0.severity == .error } }
    }

    /// Hosts the plan reads: its sources and targets (other hosts in `hosts:` are not contacted).
    static func hostsToRead(_ spec: PlanSpec) -> [HostSpec] {
        let names = Set(spec.sourceNames + spec.targetNames)
        return spec.hosts.filter { names.contains($0.name) }
    }

    static func live(
        _ spec: PlanSpec, file: String, settings: ConnectionSettings,
        concurrency: Int = InventoryReader.defaultConcurrency, dirtyRates: Bool = true
    ) async -> Outcome {
        let hosts = hostsToRead(spec)
        let results = await InventoryReader.read(
            hosts: hosts.map { (name: $0.name, uri: $0.uri) }, settings: settings,
            concurrency: concurrency, dirtyRates: dirtyRates)
        var read: [HostInventory] = []
        var unreachable: [UnreachableHost] = []
        for host in hosts {
            switch results[host.name] {
            case .success(let h)?:
                // A daemon's answers are input too: figures out of range would mislead placement.
                if let p = Inventory(hosts: [h]).problems(allowed: { _ in host.allowURIRisks }).first {
                    unreachable.append(
                        UnreachableHost(name: host.name, uri: host.uri, error: "its inventory cannot be used: \(p)"))
                } else {
                    read.append(h)
                }
            case .failure(let e)?: unreachable.append(UnreachableHost(name: host.name, uri: host.uri, error: e.message))
            case nil: unreachable.append(UnreachableHost(name: host.name, uri: host.uri, error: "not read"))
            }
        }
        let inventory = Inventory(hosts: read, unreachable: unreachable)
        return Outcome(inventory: inventory, diagnostics: reachability(spec, inventory, file: file))
    }

    static func snapshot(path: String, spec: PlanSpec, file: String) throws(CLIFailure) -> Outcome {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path, what: "inventory snapshot", limit: Inventory.maxSnapshotBytes) } catch {
            throw .invalid("error: \(TerminalText.escape(error.description))\n")
        }
        let allowed = Dictionary(
            spec.hosts.map { ($0.name, $0.allowURIRisks) }, uniquingKeysWith: { first, _ in first })
        let inventory: Inventory
        switch Inventory.decodeSnapshot(bytes: bytes, allowed: { allowed[$0] ?? [] }) {
        case .success(let inv): inventory = inv
        case .failure(let e):
            throw .invalid(
                "error: \(TerminalText.escape(path)): \(e.message)\n\(e.help.map { "    help: \($0)\n" } ?? "")")
        }
        // Hosts the plan names but the snapshot lacks count as unreachable, like live.
        var inv = inventory
        // Sets, not `host(named:)` per plan host: a 10,000-host plan made that scan quadratic.
        let known = Set(inv.hosts.map(\.name)).union(inv.unreachable.map(\.name))
        for h in hostsToRead(spec) where !known.contains(h.name) {
            inv.unreachable.append(UnreachableHost(name: h.name, uri: h.uri, error: "not in snapshot \(path)"))
        }
        inv = Inventory(hosts: inv.hosts, unreachable: inv.unreachable)
        return Outcome(
            inventory: inv,
            diagnostics: reachability(spec, inv, file: file) + unknownVirtTypes(spec, inv, file: file, path: path))
    }

    /// A snapshot written before evac read domain types has none: the virt-type filter then
    /// judges nothing (unknown is never refused), which the operator should know.
    static func unknownVirtTypes(_ spec: PlanSpec, _ inventory: Inventory, file: String, path: String) -> [Diagnostic] {
        let names = Set(spec.sourceNames + spec.targetNames)
        let sources = Set(spec.sourceNames)
        var hosts: [String] = []
        var guests = 0
        for h in inventory.hosts where names.contains(h.name) {
            if !sources.contains(h.name), h.virtTypes == nil { hosts.append(h.name) }
            if sources.contains(h.name) { guests += h.guests.filter { $0.virtType == nil }.count }
        }
        guard !hosts.isEmpty || guests > 0 else { return [] }
        var what: [String] = []
        if !hosts.isEmpty {
            let listed = hosts.prefix(3).map(TerminalText.escape).joined(separator: ", ")
            what.append(
                "target\(hosts.count == 1 ? "" : "s") \(listed)\(hosts.count > 3 ? " and \(hosts.count - 3) more" : "")"
            )
        }
        if guests > 0 { what.append("\(guests) guest\(guests == 1 ? "" : "s") on the sources") }
        let mark = (hosts.first.flatMap { spec.host($0)?.mark }) ?? Mark(line: 1, column: 1)
        return [
            Diagnostic(
                .warning, file: file, at: mark, span: max(1, hosts.first?.count ?? 1),
                "snapshot \(TerminalText.escape(path)) has no domain type for \(what.joined(separator: " and ")): the virt-type filter does not judge them (a KVM guest may be placed on a TCG-only host)",
                help: "read the inventory again (evac inventory --output FILE) with this evac, which records them")
        ]
    }

    static func reachability(_ spec: PlanSpec, _ inventory: Inventory, file: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let sources = Set(spec.sourceNames)
        for u in inventory.unreachable {
            let mark = spec.host(u.name)?.mark ?? Mark(line: 1, column: 1)
            if sources.contains(u.name) {
                out.append(
                    Diagnostic(
                        .error, file: file, at: mark, span: u.name.count,
                        "source host '\(u.name)' is unreachable at \(u.uri): \(u.error)",
                        help:
                            "a host to drain must be readable; check the daemon and the URI, or remove it from sources")
                )
            } else {
                out.append(
                    Diagnostic(
                        .warning, file: file, at: mark, span: u.name.count,
                        "target host '\(u.name)' is unreachable at \(u.uri): \(u.error); it is left out",
                        help: "guests are placed on the other targets"))
            }
        }
        return out
    }

}
