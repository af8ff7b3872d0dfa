import EvacRun
import PostgresNIO

/// Connection slots: at most `size` connections, each lent to one caller at a time. A caller
/// waits for a slot at most as long as it was told (the slots' holders are bounded by their own
/// deadlines, but a wait on the database is never left unbounded).
final class Pool: Sendable {
    final class Slot: @unchecked Sendable {
        let id: Int
        /// Touched only by the caller holding the slot.
        var connection: PostgresConnection?
        init(id: Int) { self.id = id }
        deinit { if let connection { discard(connection) } }
    }
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Slot?, Never>
    }
    private struct State {
        var free: [Slot]
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
    }
    private let state: Locked<State>
    let size: Int

    init(size: Int) {
        self.size = size
        state = Locked(State(free: (1...size).map { Slot(id: $0) }))
    }

    /// A free slot, or nil when none came free within `limit`.
    func acquire(within limit: Duration) async -> Slot? {
        let timer = Locked<Task<Void, Never>?>(nil)
        defer { timer.withLock { $0?.cancel() } }
        return await withCheckedContinuation { (c: CheckedContinuation<Slot?, Never>) in
            let queued: UInt64? = state.withLock { s in
                if let f = s.free.popLast() {
                    c.resume(returning: f)
                    return nil
                }
                defer { s.nextWaiter += 1 }
                s.waiters.append(Waiter(id: s.nextWaiter, continuation: c))
                return s.nextWaiter
            }
            // Armed after the waiter is queued, so that giving up always finds it or its slot.
            guard let queued else { return }
            timer.withLock {
                $0 = Task {
                    try? await Task.sleep(for: limit)
                    if !Task.isCancelled { self.giveUp(queued) }
                }
            }
        }
    }

    /// Ends waiter `id`'s wait with nil, unless a slot reached it first.
    private func giveUp(_ id: UInt64) {
        let waiter: Waiter? = state.withLock { s in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: i)
        }
        waiter?.continuation.resume(returning: nil)
    }

    func release(_ slot: Slot, healthy: Bool) {
        if !healthy, let c = slot.connection {
            discard(c)
            slot.connection = nil
        }
        let waiter: Waiter? = state.withLock { s in
            if s.waiters.isEmpty {
                s.free.append(slot)
                return nil
            }
            return s.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: slot)
    }

    /// The open connections, taken out of the free slots.
    func drain() -> [PostgresConnection] {
        state.withLock { s in
            let cs = s.free.compactMap(\.connection)
            for f in s.free { f.connection = nil }
            return cs
        }
    }
}
