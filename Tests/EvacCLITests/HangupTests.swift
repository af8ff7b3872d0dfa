import Foundation
import Testing

@testable import EvacRun

/// A run whose output goes nowhere any more (the terminal of a closed ssh session, a pipe into
/// a `tee` that died with it) finishes its run instead of dying at the next line. Before, the
/// first write trapped in FileHandle.write(_:) and the drain stopped half-way.
struct HangupTests {
    @Test func aRunWhoseOutputPipeIsClosedFinishesItsRun() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-hup-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: state) }
        let dead = Pipe()
        try dead.fileHandleForReading.close()
        let p = Process()
        p.executableURL = Repo.evac
        // The test-driver fleet: libvirt's test driver cannot migrate, so the run ends partial
        // (exit 1) after writing every step — a line per event into the dead pipe.
        p.arguments = ["apply", "plans/demo/rack12-drain.yaml", "--output", "plain"]
        p.currentDirectoryURL = Repo.root
        p.environment = ProcessInfo.processInfo.environment.merging(["EVAC_STATE_DIR": state.path]) { $1 }
        p.standardOutput = dead.fileHandleForWriting
        p.standardError = dead.fileHandleForWriting
        try p.run()
        try dead.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 1, "partial, as with a live terminal")
        let journals = try FileManager.default.contentsOfDirectory(atPath: state.path).filter {
            $0.hasSuffix(JournalLocation.journalSuffix)
        }
        #expect(journals.count == 1)
        let status = try JournalStatus.read(path: state.path + "/" + journals[0])
        #expect(status.runs.last?.exitStatus == "partial", "the run wrote its end: \(status.runs)")
        #expect(status.applyCounts.pending == 0 && status.applyCounts.running == 0)
    }
}
