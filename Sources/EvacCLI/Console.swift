import EvacCore
import EvacRun
import Foundation

/// Standard output and error without buffering surprises (reports are large; errors must
/// appear even if the process exits right after).
enum Console {
    /// Text for people. Control characters other than newline and tab are escaped as a last
    /// line of defence: reports quote names from plans, inventories and libvirt. Writes that
    /// fail (a closed terminal or pipe: EPIPE, EIO) are dropped rather than trapping, so a drain
    /// whose ssh session went away goes on.
    static func out(_ s: String) {
        guard !s.isEmpty else { return }
        raw(Data(TerminalText.escapeKeepingLines(s).utf8), FileHandle.standardOutput)
    }
    static func error(_ s: String) {
        guard !s.isEmpty else { return }
        raw(Data(TerminalText.escapeKeepingLines(s).utf8), FileHandle.standardError)
    }
    /// JSON as the encoder wrote it (it escapes control characters itself; escaping again would
    /// make invalid JSON).
    static func json(_ s: String) { raw(Data(s.utf8), FileHandle.standardOutput) }

    private static func raw(_ data: Data, _ handle: FileHandle) { try? handle.write(contentsOf: data) }

    /// Writes to a file atomically (a new 0600 file, then rename; see `OutputFile`, which writes
    /// streams such as /dev/null in place) or to standard output.
    static func write(_ data: Data, to path: String?) throws {
        guard let path else {
            raw(data, FileHandle.standardOutput)
            return
        }
        do { try OutputFile.write(data, to: path) } catch {
            throw CLIFailure.invalid("error: cannot write \(TerminalText.escape(path)): \(error.reason)\n")
        }
    }
}
