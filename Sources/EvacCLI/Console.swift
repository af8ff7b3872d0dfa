import Foundation

/// Standard output and error without buffering surprises (reports are large; errors must
/// appear even if the process exits right after).
enum Console {
    static func out(_ s: String) { guard !s.isEmpty else { return }; try? FileHandle.standardOutput.write(contentsOf: Data(s.utf8)) }
    static func error(_ s: String) { guard !s.isEmpty else { return }; try? FileHandle.standardError.write(contentsOf: Data(s.utf8)) }

    /// Writes to a file atomically (temp + rename) or to standard output.
    static func write(_ data: Data, to path: String?) throws {
        guard let path else { try? FileHandle.standardOutput.write(contentsOf: data); return }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw ValidationFailure("cannot write \(path): \(error.localizedDescription)") }
    }
}
