import Foundation
import EvacCore
import EvacRun

/// Standard output and error without buffering surprises (reports are large; errors must
/// appear even if the process exits right after).
enum Console {
    /// Text for people. Control characters other than newline and tab are escaped as a last
    /// line of defence: reports quote names from plans, inventories and libvirt.
    static func out(_ s: String) { guard !s.isEmpty else { return }; FileHandle.standardOutput.write(Data(TerminalText.escapeKeepingLines(s).utf8)) }
    static func error(_ s: String) { guard !s.isEmpty else { return }; FileHandle.standardError.write(Data(TerminalText.escapeKeepingLines(s).utf8)) }
    /// JSON as the encoder wrote it (it escapes control characters itself; escaping again would
    /// make invalid JSON).
    static func json(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

    /// Writes to a file atomically (a new 0600 file, then rename; see `OutputFile`) or to
    /// standard output.
    static func write(_ data: Data, to path: String?) throws {
        guard let path else { FileHandle.standardOutput.write(data); return }
        do { try OutputFile.write(data, to: path) }
        catch { throw ValidationFailure("cannot write \(TerminalText.escape(path)): \(error.reason)") }
    }
}
