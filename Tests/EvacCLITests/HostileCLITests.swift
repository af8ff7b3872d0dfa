import Foundation
import Testing

/// Issue 9 through the built binary: bad journals, files that are not plans, output files,
/// terminal escapes in names.
@Suite struct HostileCLITests {
    final class Workspace {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-hostile-\(UUID().uuidString)")
            .path
        init() throws {
            try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Repo.path("plans/demo/rack12-drain.yaml"), toPath: plan)
            for h in ["kvm-12a", "kvm-12b", "kvm-13a", "kvm-13b", "kvm-13c"] {
                try FileManager.default.copyItem(
                    atPath: Repo.path("plans/demo/hosts/\(h).xml"), toPath: dir + "/hosts/\(h).xml")
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
        var plan: String { dir + "/plan.yaml" }
        var state: String { dir + "/state" }
    }

    @Test func oneBadJournalDoesNotHideTheOthers() throws {
        let w = try Workspace()
        // A real journal: apply on the test driver fails every migration but records the run.
        _ = try runEvac(["apply", w.plan, "--state-dir", w.state, "--output", "plain"])
        try Data("not sqlite at all\n".utf8).write(
            to: URL(fileURLWithPath: w.state + "/broken-000000000000.journal.sqlite"))
        let s = try runEvac(["status", "--state-dir", w.state])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("rack12-demo"), "\(s.stdout)")
        let row = s.stdout.split(separator: "\n").first { $0.contains("broken-000000000000.journal.sqlite") }
        #expect(row?.contains("(unreadable)") == true, "\(s.stdout)")
        #expect(s.stderr.contains("warning: journal"), "\(s.stderr)")
    }

    @Test func statusReadsNoArbitraryFileAsAPlan() throws {
        let w = try Workspace()
        let secret = w.dir + "/secret.txt"
        try "root:$6$very-secret-hash:19000::::::\n".write(toFile: secret, atomically: false, encoding: .utf8)
        let s = try runEvac(["status", secret, "--state-dir", w.state])
        #expect(s.status == 2)
        #expect(!s.stderr.contains("very-secret-hash") && !s.stdout.contains("very-secret-hash"), "\(s.stderr)")
        #expect(s.stderr.contains("is not a plan (.yaml)"))
    }

    @Test func aPlanThatIsNotAFileSaysWhatItIs() throws {
        let w = try Workspace()
        let r = try runEvac(["validate", w.dir])
        #expect(r.stderr.contains("plan file is a directory, not a regular file"), "\(r.stderr)")
        let fifo = w.dir + "/fifo.yaml"
        mkfifo(fifo, 0o600)
        let f = try runEvac(["validate", fifo])
        #expect(f.status == 2)
        #expect(f.stderr.contains("plan file is a FIFO (named pipe)"), "\(f.stderr)")
    }

    @Test func outputFilesAre0600AndNeverWrittenThroughASymlink() throws {
        let w = try Workspace()
        let victim = w.dir + "/victim"
        try "keep\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let out = w.dir + "/plan.json"
        symlink(victim, out)
        let r = try runEvac(["plan", w.plan, "--output", "json", "-o", out])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep\n")
        var st = stat()
        #expect(lstat(out, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o777 == 0o600)
    }

    @Test func terminalEscapesInAPlanNameAreShownEscaped() throws {
        let w = try Workspace()
        let text = try String(contentsOfFile: w.plan, encoding: .utf8)
        let evil = text.replacingOccurrences(of: "name: rack12-demo", with: "name: \"rack12\\e]0;pwned\\a\\e[2J\"")
        #expect(evil != text)
        try evil.write(toFile: w.plan, atomically: false, encoding: .utf8)
        let r = try runEvac(["plan", w.plan])
        #expect(r.stdout.contains("Plan rack12\\e]0;pwned\\u{7}\\e[2J:"), "\(r.stdout.prefix(200))")
        #expect(!r.stdout.contains("\u{1B}") && !r.stderr.contains("\u{1B}"))
    }
}
