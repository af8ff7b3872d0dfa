import EvacFake
import Foundation
import Testing

/// The commands against a host that accepts connections and never answers (a unix socket of
/// the test's own, what a frozen libvirtd looks like): named within the deadline with its URI
/// and the call that timed out, never waited on forever; and signals work meanwhile.
@Suite struct SilentHostCommandTests {
    /// The demo fleet (libvirt's test driver) plus a host "frozen" behind `silent`, as a
    /// source or as a target.
    func plan(_ silent: SilentHost, frozenIs role: String, in dir: URL) throws -> String {
        let hosts = Repo.path("plans/demo/hosts")
        let sources = role == "source" ? "[kvm-12a, frozen]" : "[kvm-12a]"
        let targets = role == "target" ? "[frozen, kvm-13a, kvm-13b]" : "[kvm-13a, kvm-13b]"
        let yaml = """
            version: 1
            name: silent-\(role)
            hosts:
              kvm-12a: "test://\(hosts)/kvm-12a.xml"
              kvm-13a: "test://\(hosts)/kvm-13a.xml"
              kvm-13b: "test://\(hosts)/kvm-13b.xml"
              frozen: "\(silent.uri)"
            sources: \(sources)
            targets: [ { pool: p, hosts: \(targets) } ]
            select: { include: ["db-01", "web-01"] }
            constraints: { memory-reserve: 4GiB }

            """
        let path = dir.appendingPathComponent("plan-\(role).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func scratch() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-silent-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func aSilentSourceFailsPlanInventoryAndApplyWithExit3NamingIt() async throws {
        let silent = try SilentHost()
        defer { silent.close() }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try plan(silent, frozenIs: "source", in: dir)
        for args in [
            ["plan", path], ["inventory", path], ["apply", path, "--dry-run"],
            ["apply", path, "--state-dir", dir.appendingPathComponent("state").path],
        ] {
            let r = try runEvac(args + ["--connect-timeout", "300ms"])
            #expect(r.status == 3, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("source host 'frozen' is unreachable at \(silent.uri)"), "\(args): \(r.stderr)")
            #expect(
                r.stderr.contains("virConnectOpenAuth: no connection within 300ms (connect timeout)"),
                "\(args): \(r.stderr)")
        }
    }

    @Test func aSilentTargetIsLeftOutAndTheOthersAreUsed() async throws {
        let silent = try SilentHost()
        defer { silent.close() }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try plan(silent, frozenIs: "target", in: dir)
        let p = try runEvac(["plan", path, "--connect-timeout", "300ms"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stderr.contains("target host 'frozen' is unreachable at \(silent.uri)"), "\(p.stderr)")
        #expect(p.stderr.contains("virConnectOpenAuth"), "\(p.stderr)")
        #expect(p.stdout.contains("kvm-13a"), "\(p.stdout)")
        let d = try runEvac(["apply", path, "--dry-run", "--connect-timeout", "300ms"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(d.stdout.contains("All pre-checks pass."), "\(d.stdout)")
    }

    /// SIGINT and SIGTERM end a command waiting for a host to connect at once (exit 4), even
    /// when started the way a script starts a background job: with SIGINT ignored. And SIGPIPE
    /// is ignored before libvirt runs (a daemon dying mid-call must not kill evac, exit 141).
    @Test(arguments: [SIGINT, SIGTERM], ["plan", "apply"])
    func aSignalEndsAWaitForAHostEvenWhenInheritedIgnored(signal: Int32, verb: String) async throws {
        let silent = try SilentHost()
        defer { silent.close() }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try plan(silent, frozenIs: "source", in: dir)
        let command =
            verb == "plan" ? ["plan", path] : ["apply", path, "--state-dir", dir.appendingPathComponent("state").path]
        do {
            let p = Process()
            // `trap "" INT` makes the shell ignore SIGINT, which the exec'd evac inherits: what a
            // background job of a non-interactive shell gets. No string reaches the shell.
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments =
                ["-c", "trap '' INT; exec \"$@\"", "bash", Repo.evac.path] + command + ["--connect-timeout", "10m"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let waited = try await until { silent.connectionsAccepted >= 1 }
            #expect(waited, "evac connected to the silent host")
            let status = try String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8)
            let ignored =
                status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }.flatMap {
                    UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
                } ?? 0
            #expect(ignored & (1 << UInt64(SIGPIPE - 1)) != 0, "SIGPIPE ignored: SigIgn \(String(ignored, radix: 16))")
            kill(p.processIdentifier, signal)
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(
                p.terminationReason == .exit && p.terminationStatus == 4,
                "\(command[0]): \(p.terminationStatus) \(text)")
            #expect(text.contains("interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM")"), "\(text)")
        }
    }

    /// Polls until `condition` holds, 10 s at most (for what another process does, with no
    /// event to wait on).
    private func until(_ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() >= deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
