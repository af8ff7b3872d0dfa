import Foundation

/// Serializes whole lines onto one file descriptor (stdout by default): observers are called
/// from many threads and a line must never interleave with another.
public final class LineWriter: Sendable {
    private let handle: FileHandle
    private let lock = Locked(())
    public init(_ handle: FileHandle = .standardOutput) { self.handle = handle }
    public func write(_ line: String) {
        lock.withLock { _ in handle.write(Data((line + "\n").utf8)) }
    }
}
