import Foundation
import Logging
import Testing

@testable import EvacLog

/// EvacLog keeps the configuration process-wide, so these run one after another.
@Suite(.serialized) struct EvacLogTests {
    final class Lines: LogSink, @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func write(line: String) {
            lock.lock()
            lines.append(line)
            lock.unlock()
        }
        var all: [String] {
            lock.lock()
            defer { lock.unlock() }
            return lines
        }
    }

    @Test func silentUntilConfiguredThenAtTheLevelGiven() {
        EvacLog.configure(level: .debug, sinks: [])
        let log = EvacLog.logger("evac.test") // made before the sinks exist, as a static let would be
        #expect(!EvacLog.isEnabled)
        log.info("dropped")
        let sink = Lines()
        EvacLog.configure(level: .info, sinks: [sink])
        log.debug("below the level")
        log.info("placed g1", metadata: ["target": "t2", "memory_kib": "1024"])
        #expect(sink.all.count == 1)
        #expect(sink.all[0].hasSuffix(" info evac.test: placed g1 memory_kib=1024 target=t2"), "\(sink.all)")
        #expect(JournalLikeTime.matches(String(sink.all[0].prefix(24))))
        EvacLog.configure(level: .debug, sinks: [])
    }

    @Test func logFilesArePrivateAppendedAndNeverASymlink() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-log-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("evac.log").path
        try "earlier\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        let file = try FileSink(path: path)
        file.write(line: "one")
        file.write(line: "two")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "earlier\none\ntwo\n")
        let fresh = dir.appendingPathComponent("new.log").path
        _ = try FileSink(path: fresh)
        let mode = (try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o077 == 0, "mode \(String(mode, radix: 8))")
        let link = dir.appendingPathComponent("link.log").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(throws: LogFileError.self) { try FileSink(path: link) }
    }
}

enum JournalLikeTime {
    /// 2026-12-01T10:22:33.123Z
    static func matches(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return u.count == 24 && u[4] == 45 && u[10] == 84 && u[19] == 46 && u[23] == 90
    }
}
