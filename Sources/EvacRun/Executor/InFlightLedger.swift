/// Guests in flight to each target, so that a pre-check counts the memory and vCPUs that are
/// on their way but not yet in the target's inventory.
final class InFlightLedger: Sendable {
    struct Entry: Sendable { var uuid: String; var memoryKiB: UInt64; var vcpus: Int }
    private let byTarget = Locked([String: [String: Entry]]())

    func add(target: String, _ e: Entry) { byTarget.withLock { $0[target, default: [:]][e.uuid] = e } }
    func remove(target: String, uuid: String) { byTarget.withLock { _ = $0[target]?.removeValue(forKey: uuid) } }
    /// The others in flight to `target` (not `uuid` itself).
    func others(target: String, excluding uuid: String) -> [Entry] {
        byTarget.withLock { ($0[target] ?? [:]).values.filter { $0.uuid != uuid } }
    }
}
