import ArgumentParser
import EvacCoordinator
import EvacCore
import EvacRun
import Foundation

/// `evac status` with a coordinator: one run's journal from the database, or (no plan, or
/// --all) every run of the fleet with its lease, the hosts it drains and the reservations.
enum FleetStatus {
    struct Listing: Encodable {
        var runs: [FleetRun]
        var reservations: [FleetReservation]
    }

    static func show(plan: String?, url: String, json: Bool) async throws {
        let coordinator = try CoordinatedRun.connect(url)
        let shown: Result<Void, any Error>
        do { shown = .success(try await show(plan: plan, coordinator, json: json)) } catch { shown = .failure(error) }
        await coordinator.shutdown()
        try shown.get()
    }

    private static func show(plan: String?, _ coordinator: Coordinator, json: Bool) async throws {
        do {
            if let plan {
                let key = try await CoordinatedRun.journalKey(plan, coordinator)
                let stored = try await coordinator.storedPlan(journal: key)
                let status = try await coordinator.status(planName: stored.planName, planHash: stored.planHash)
                if json { try printJSON(status) } else { Console.out(StatusReport.render(status)) }
                return
            }
            let fleet = try await coordinator.fleet()
            if json { return try printJSON(Listing(runs: fleet.runs, reservations: fleet.reservations)) }
            Console.out(render(fleet.runs, fleet.reservations, server: coordinator.url.server))
        } catch let e as CoordinatorError {
            Console.error("error: \(e)\n")
            throw EvacExit.cannotStart
        }
    }

    static func render(_ runs: [FleetRun], _ reservations: [FleetReservation], server: String) -> String {
        if runs.isEmpty { return "no runs in \(TerminalText.escape(server))\n" }
        var t = Table()
        t.add([
            "journal", "plan", "last run", "done", "failed", "blocked", "pending", "rolled back", "lease", "draining",
        ])
        for r in runs {
            let last = r.lastRun.map { "\($0.kind.rawValue) \($0.exitStatus ?? "running?")" } ?? "-"
            let c = r.apply
            let lease: String
            switch (r.holder, r.leaseLive) {
            case (let h?, true?): lease = "\(h) until \(r.leaseExpires ?? "?")"
            case (let h?, _): lease = "expired \(r.leaseExpires ?? "?") (\(h)): resume takes it over"
            default: lease = "-"
            }
            t.add([
                r.journal, r.planName, last, "\(c.done)", "\(c.failed)", "\(c.blocked)", "\(c.pending + c.running)",
                "\(c.rolledBack)", lease, r.draining.isEmpty ? "-" : r.draining.joined(separator: ","),
            ])
        }
        var out = t.render()
        if !reservations.isEmpty {
            var r = Table()
            r.add(["target", "plan", "guest", "memory", "vCPUs", "state"])
            for x in reservations {
                r.add([x.target, x.planName, x.guest, Format.bytes(Double(x.memoryKiB) * 1024), "\(x.vcpus)", x.state])
            }
            out += "\nReservations\n" + r.render()
        }
        return out
    }

    private static func printJSON<T: Encodable>(_ value: T) throws {
        Console.json(String(decoding: try PlanFile.canonicalEncoder().encode(value), as: UTF8.self) + "\n")
    }
}
