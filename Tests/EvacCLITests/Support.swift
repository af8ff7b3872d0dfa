import Foundation
import XCTest

/// Paths and process helpers shared by the CLI tests.
enum Repo {
    /// The repository root (this file is Tests/EvacCLITests/Support.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    /// The built `evac` executable next to the test bundle.
    static var evac: URL {
        var dir = Bundle(for: Marker.self).bundleURL
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("evac").path) {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("evac")
    }
    private final class Marker {}
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs evac with arguments (no shell) from the repository root.
func runEvac(_ args: [String], cwd: String = Repo.root.path) throws -> RunResult {
    let p = Process()
    p.executableURL = Repo.evac
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: cwd)
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read before waiting: a full pipe would block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(
        status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: e, as: UTF8.self))
}

/// Compares text with a golden file; EVAC_UPDATE_GOLDEN=1 rewrites it instead.
func assertGolden(_ actual: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let url = Repo.golden.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["EVAC_UPDATE_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        XCTFail("golden file \(name) missing; run with EVAC_UPDATE_GOLDEN=1 to create it", file: file, line: line)
        return
    }
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
        XCTFail(
            """
            \(name) differs at line \(first + 1):
              expected: \(first < e.count ? String(e[first]) : "<end>")
              actual:   \(first < a.count ? String(a[first]) : "<end>")
            """, file: file, line: line)
    }
}
