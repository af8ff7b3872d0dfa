import Foundation

/// Serializes whole lines onto one file descriptor (stdout by default): observers are called
/// from many threads and a line must never interleave with another.
public final class LineWriter: Sendable {
    private let handle: FileHandle
    private let lock = Locked(())
    /// A writer onto `handle`.
    public init(_ handle: FileHandle = .standardOutput) { self.handle = handle }
    /// Writes `line` and a newline under the lock, so lines never interleave; a failed write is dropped.
    public func write(_ line: String) {
        // A failed write (a terminal gone with its ssh session, a closed pipe) is dropped: losing
        // the display must not stop the run. FileHandle.write(_:) would trap on it.
        lock.withLock { _ in try? handle.write(contentsOf: Data((line + "\n").utf8)) }
    }
}
