import EvacRun
import Foundation
import Testing

/// The commands write the pages: `plan --output html` with a window, `status --output html` of
/// a run on libvirt's test driver (which cannot migrate, so every step fails or is blocked).
struct HTMLOutputTests {
    @Test func planAndStatusWriteTheirPages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-html-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = dir.appendingPathComponent("plan.html").path
        let r = try runEvac(["plan", "plans/demo/rack12-drain.yaml", "--output", "html", "-o", plan, "--window", "30s"])
        #expect(r.status == 1, "unplaceable guests: \(r.stderr)")
        let page = try String(contentsOfFile: plan, encoding: .utf8)
        #expect(
            page.hasPrefix("<!DOCTYPE html>") && page.contains("id=\"gantt-window-end\"")
                && page.contains("id=\"window-verdict\""))
        // --window is a what-if under the executor's rule (late: skip): the verdict counts
        // what evac apply would start, not the up-front schedule's makespan.
        #expect(page.contains(" start; ") && page.contains("not started: ") && !page.contains("overruns by"))
        #expect(
            try runEvac(["plan", "plans/demo/rack12-drain.yaml", "--output", "html", "--window", "soon"]).status == 2)

        let state = dir.appendingPathComponent("state").path
        let apply = Process()
        apply.executableURL = Repo.evac
        apply.arguments = ["apply", "plans/demo/rack12-drain.yaml", "--output", "plain", "--state-dir", state]
        apply.currentDirectoryURL = Repo.root
        apply.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        apply.standardError = err
        try apply.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        apply.waitUntilExit()
        #expect(apply.terminationStatus == 1)
        // The last line says what the exit code means.
        #expect(
            stderr.split(separator: "\n").last?.hasPrefix("exit 1: partial: 4 failed, 2 blocked, 6 guests unplaceable")
                == true, "\(stderr)")
        let run = dir.appendingPathComponent("run.html").path
        let s = try runEvac([
            "status", "plans/demo/rack12-drain.yaml", "--state-dir", state, "--output", "html", "-o", run,
        ])
        #expect(s.status == 0, "\(s.stderr)")
        let runPage = try String(contentsOfFile: run, encoding: .utf8)
        #expect(
            runPage.contains("<svg id=\"gantt\"")
                && runPage.components(separatedBy: "class=\"bar st-failed\"").count - 1 == 4)
        #expect(try runEvac(["status", "--follow", "--output", "html", "plans/demo/rack12-drain.yaml"]).status == 2)
    }
}

/// `-o` onto something that is not a regular file writes into it instead of renaming over it:
/// a rename replaced the machine's /dev/null with a regular file when run as root.
struct OutputToDeviceTests {
    @Test func writingToAFIFOKeepsTheFIFO() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-fifo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("out").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader at the other end; O_RDWR so that opening never blocks and the test cannot
        // hang whatever evac does (it is closed after evac exits).
        let fd = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(fd >= 0)
        defer { close(fd) }
        let r = try runEvac(["plan", "plans/demo/rack12-drain.yaml", "--output", "dot", "-o", fifo])
        #expect(r.status == 1, "\(r.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO, "still a FIFO")
    }

    /// `-o /dev/stdout` is a symlink to the process's own stream: written through, the symlink
    /// kept. A symlink to anything else (a regular file, a disk) is replaced, never written through.
    @Test func aSymlinkToAStreamIsWrittenThroughOthersAreReplaced() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-link-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("fifo").path
        let link = dir.appendingPathComponent("stdout").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(symlink(fifo, link) == 0)
        let fd = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(fd >= 0)
        defer { close(fd) }
        try OutputFile.write(Data("hello\n".utf8), to: link)
        var buf = [UInt8](repeating: 0, count: 16)
        #expect(read(fd, &buf, buf.count) == 6, "the bytes went through the link into the FIFO")
        var st = stat()
        #expect(lstat(link, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK, "the link is still a link")

        let victim = dir.appendingPathComponent("victim").path
        let planted = dir.appendingPathComponent("planted").path
        try "keep\n".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(symlink(victim, planted) == 0)
        try OutputFile.write(Data("new\n".utf8), to: planted)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep\n")
        #expect(lstat(planted, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "the link was replaced")
    }
}
