import Foundation

/// Headless Chromium from Debian's `chromium` package (scripts/deps installs it): the pages are
/// loaded by a real browser, screenshotted, and their DOM read back as the browser parsed it.
/// A missing browser fails the test with the reason; nothing is skipped.
enum Browser {
    static let executable = "/usr/bin/chromium"

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Runs chromium on a local file with `extra` arguments; returns its standard output.
    /// `--no-sandbox`: tests run as root, where Chromium's sandbox refuses to start. Each call
    /// has its own profile directory (tests run in parallel) and a deadline.
    static func run(_ page: URL, _ extra: [String], timeout: TimeInterval = 90) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "\(executable) not found: install Debian's chromium (scripts/deps does)")
        }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let out = profile.appendingPathExtension("out")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--user-data-dir=\(profile.path)",
            ] + extra + [page.absoluteString]
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw Failure(description: "chromium did not finish within \(Int(timeout)) s")
        }
        guard p.terminationStatus == 0 else { throw Failure(description: "chromium exited \(p.terminationStatus)") }
        return (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    }

    /// The DOM after parsing (and layout), serialised by the browser.
    static func dom(_ page: URL) throws -> String { try run(page, ["--dump-dom"]) }

    /// A PNG screenshot; returns its bytes.
    static func screenshot(_ page: URL, to png: URL, width: Int = 1280, height: Int = 1400) throws -> Data {
        _ = try run(page, ["--screenshot=\(png.path)", "--window-size=\(width),\(height)"])
        return try Data(contentsOf: png)
    }

    /// Width and height from a PNG's IHDR chunk; nil if `data` is not a PNG.
    static func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
            b[12..<16] == [0x49, 0x48, 0x44, 0x52]
        else { return nil }
        func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be(16), be(20))
    }

    /// How often `needle` occurs in `text`.
    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
}
