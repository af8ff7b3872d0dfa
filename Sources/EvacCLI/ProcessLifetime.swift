/// Values a command leaves for the end of the process to reclaim instead of freeing them.
///
/// `evac plan` ends right after writing its output; freeing a 100,000-guest plan's values one
/// by one (the inventory, the placements, the graph twice over, the plan file's bytes) was
/// 3–5 % of its CPU, all spent on memory the process's exit gives back at once.
enum ProcessLifetime {
    private final class Kept<T> {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// Keeps `value` alive until the process exits. Only for values of a command about to end:
    /// nothing ever frees them.
    static func keepUntilExit<T>(_ value: T) {
        _ = Unmanaged.passRetained(Kept(value))
    }
}
