import Foundation

/// Standard output and error without buffering surprises (reports are large; errors must
/// appear even if the process exits right after).
enum Console {
    static func out(_ s: String) { guard !s.isEmpty else { return }; try? FileHandle.standardOutput.write(contentsOf: Data(s.utf8)) }
    static func error(_ s: String) { guard !s.isEmpty else { return }; try? FileHandle.standardError.write(contentsOf: Data(s.utf8)) }

    /// Writes to a file atomically (temp + rename) or to standard output. Something that is
    /// not a regular file (`-o /dev/null`, a FIFO, a terminal) is written to in place: a rename
    /// over it would replace the device itself — run as root, `evac plan -o /dev/null` turned
    /// the machine's /dev/null into a regular file.
    static func write(_ data: Data, to path: String?) throws {
        guard let path else { try? FileHandle.standardOutput.write(contentsOf: data); return }
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG, st.st_mode & S_IFMT != S_IFLNK {
            guard let h = FileHandle(forWritingAtPath: path) else { throw ValidationFailure("cannot write \(path)") }
            defer { try? h.close() }
            do { try h.write(contentsOf: data) } catch { throw ValidationFailure("cannot write \(path): \(error.localizedDescription)") }
            return
        }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw ValidationFailure("cannot write \(path): \(error.localizedDescription)") }
    }
}
