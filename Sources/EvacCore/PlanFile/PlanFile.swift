import Foundation

public enum EvacVersion { public static let current = "0.1.0" }

/// The saved, hashable result of `evac plan`: what `evac apply` consumes.
/// Same plan and inventory give the same bytes (no timestamps, sorted keys).
public struct PlanFile: Codable, Hashable, Sendable {
    public var format: String = "evac-planfile"
    public var formatVersion: Int = 1
    public var evacVersion: String = EvacVersion.current
    public var planName: String
    /// SHA-256 of this file's canonical encoding with `planHash` empty.
    public var planHash: String
    /// Where the plan came from: the YAML file's name and the SHA-256 of its text.
    public var planSource: PlanSource
    /// SHA-256 of the stable part of the inventory the placement was computed from.
    public var inventoryFingerprint: String
    public var hosts: [HostRef]
    public var sources: [String]
    public var targets: [String]
    public var migration: MigrationOptions
    public var onFailure: OnFailure
    public var graph: MigrationGraph
    public var unplaceable: [Unplaceable]
    public var skipped: [SkippedGuest]
    public var targetUsage: [TargetUsage]
    public var notes: [String]
    public var estimatedDurationMs: Double
    // What the executor re-checks before each migration. Optional so that plan files written
    // before these fields existed still decode (nil = no reserve, no ratio, no renames,
    // cpu `compatible`, bridges `match`).
    /// Memory kept free on every target, KiB (constraints.memory-reserve).
    public var memoryReserveKiB: UInt64?
    /// Maximum guest vCPUs per host logical CPU; nil = unlimited.
    public var maxVCPURatio: Double?
    /// Source bridge or network name -> name on the target.
    public var bridgeMap: [String: String]?
    public var cpuPolicy: Constraints.CPUPolicy?
    public var bridgePolicy: Constraints.BridgePolicy?

    public struct PlanSource: Codable, Hashable, Sendable {
        public var path: String
        public var sha256: String
    }
    public struct HostRef: Codable, Hashable, Sendable {
        public var name: String
        public var uri: String
        public var cpuPool: String?
    }

    public init(spec: PlanSpec, planSource: PlanSource, inventory: Inventory, result: PlacementResult,
                graph: MigrationGraph, timeline: Timeline) {
        planName = spec.name
        planHash = ""
        self.planSource = planSource
        inventoryFingerprint = inventory.fingerprint
        hosts = spec.hosts.map { HostRef(name: $0.name, uri: $0.uri, cpuPool: $0.cpuPool) }.sorted { $0.name < $1.name }
        sources = spec.sourceNames
        targets = spec.targetNames
        migration = spec.migration
        onFailure = spec.onFailure
        self.graph = graph
        unplaceable = result.unplaceable
        skipped = result.skipped
        targetUsage = result.targets
        notes = result.notes
        estimatedDurationMs = timeline.totalMs
        memoryReserveKiB = (spec.constraints.memoryReserveBytes + 1023) / 1024
        maxVCPURatio = spec.constraints.maxVCPURatio
        bridgeMap = spec.constraints.bridgeMap
        cpuPolicy = spec.constraints.cpu
        bridgePolicy = spec.constraints.bridges
        planHash = computedHash
    }

    public static func canonicalEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    public var computedHash: String {
        var copy = self
        copy.planHash = ""
        // Encoding our own value types cannot fail.
        let data = (try? Self.canonicalEncoder().encode(copy)) ?? Data()
        return SHA256.hex(Array(data))
    }

    public func encoded() -> Data {
        var d = (try? Self.canonicalEncoder().encode(self)) ?? Data()
        d.append(0x0a)
        return d
    }

    public func uri(of host: String) -> String? { hosts.first { $0.name == host }?.uri }
}

extension Constraints.CPUPolicy: Codable {}
extension Constraints.BridgePolicy: Codable {}

extension Inventory {
    /// SHA-256 over what placement depends on; momentary figures (free memory, balloon size)
    /// are left out so that a plan is not stale just because page cache moved.
    public var fingerprint: String {
        var stable = self
        for h in stable.hosts.indices {
            stable.hosts[h].freeMemoryKiB = 0
            for g in stable.hosts[h].guests.indices { stable.hosts[h].guests[g].currentMemoryKiB = 0 }
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        let data = (try? e.encode(stable)) ?? Data()
        return SHA256.hex(Array(data))
    }

    public func encodedSnapshot() -> Data {
        var d = (try? PlanFile.canonicalEncoder().encode(self)) ?? Data()
        d.append(0x0a)
        return d
    }
}
