import Foundation
import Glibc
import Testing

@testable import EvacRun

/// The hook command runner against real processes: argv passed as is (no shell), exit status,
/// bounded output, a deadline that kills the whole process group, nothing inherited.
@Suite struct HookProcessTests {
    /// A script in a scratch directory (the hook's program; tests write it, no plan does).
    static func script(_ dir: TempDir, _ name: String, _ body: String) throws -> String {
        let path = dir.path + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test func argumentsArePassedAsTheyAreAndTheExitStatusIsKept() async throws {
        let dir = TempDir()
        let s = try Self.script(
            dir, "args", #"for a in "$@"; do printf '<%s>\n' "$a"; done; printf 'guest=%s\n' "$EVAC_GUEST"; exit 3"#)
        let exit = await HookProcess.run(
            HookInvocation(
                argv: [s, "a b", "$(id)", ";rm -rf /", ""],
                environment: ["EVAC_GUEST": "web-1", "PATH": "/usr/bin:/bin"], timeoutMs: 10_000))
        #expect(exit.ending == .exited(3))
        #expect(exit.output == "<a b>\n<$(id)>\n<;rm -rf />\n<>\nguest=web-1\n")
        #expect(!exit.succeeded)
    }

    @Test func theEnvironmentIsOnlyWhatIsGiven() async throws {
        let dir = TempDir()
        setenv("EVAC_TEST_SECRET", "hunter2", 1)
        defer { unsetenv("EVAC_TEST_SECRET") }
        let exit = await HookProcess.run(
            HookInvocation(argv: ["/usr/bin/env"], environment: ["A": "1"], timeoutMs: 10_000))
        #expect(exit.ending == .exited(0))
        #expect(exit.output == "A=1\n")
        _ = dir
    }

    @Test func aProgramThatDoesNotExistIsReportedNotRunThroughAShell() async {
        let exit = await HookProcess.run(
            HookInvocation(argv: ["/nonexistent/lb-ctl", "drain"], environment: [:], timeoutMs: 10_000))
        guard case .couldNotStart(let why) = exit.ending else {
            Issue.record("\(exit.ending)")
            return
        }
        #expect(why.contains("/nonexistent/lb-ctl"))
    }

    /// The deadline kills the hook's whole process group: a child it left running in the
    /// background dies with it (found gone by its PID, which the script wrote down).
    @Test func theDeadlineKillsTheProcessGroup() async throws {
        let dir = TempDir()
        let pidFile = dir.path + "/child.pid"
        let s = try Self.script(dir, "hang", "sleep 300 & echo $! > \(pidFile); echo started; wait")
        var inv = HookInvocation(argv: [s], environment: ["PATH": "/usr/bin:/bin"], timeoutMs: 1000)
        inv.killGraceMs = 500
        let exit = await HookProcess.run(inv)
        #expect(exit.ending == .timedOut)
        #expect(exit.output.contains("started"))
        let child = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The orphaned sleep is reaped by init once killed; give it that moment.
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(child, 0) == 0
            if alive { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(!alive, "the hook's background child \(child) outlived its deadline")
    }

    /// A hook that ignores SIGTERM is killed (SIGKILL) after the grace period.
    @Test func aHookThatIgnoresTermIsKilled() async throws {
        let dir = TempDir()
        let s = try Self.script(dir, "stubborn", "trap '' TERM; while :; do sleep 1; done")
        var inv = HookInvocation(argv: [s], environment: ["PATH": "/usr/bin:/bin"], timeoutMs: 1000)
        inv.killGraceMs = 300
        let exit = await HookProcess.run(inv)
        #expect(exit.ending == .timedOut)
    }

    @Test func outputIsBoundedAndTheEndIsKept() async throws {
        let dir = TempDir()
        let s = try Self.script(dir, "loud", "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done")
        var inv = HookInvocation(argv: [s], environment: ["PATH": "/usr/bin:/bin"], timeoutMs: 20_000)
        inv.outputLimit = 1024
        let exit = await HookProcess.run(inv)
        #expect(exit.ending == .exited(0))
        #expect(exit.droppedBytes > 20_000)
        #expect(exit.output.hasSuffix("line-2999\n"))
        #expect(exit.output.hasPrefix("[… \(exit.droppedBytes) bytes of output dropped]"))
        #expect(exit.output.utf8.count < 1024 + 64)
    }

    /// A descriptor evac holds open (without close-on-exec) is not inherited by a hook.
    @Test func openDescriptorsAreNotInherited() async throws {
        let dir = TempDir()
        let fd = open(dir.path + "/held", O_CREAT | O_RDWR, 0o600)
        #expect(fd > 2)
        defer { close(fd) }
        let s = try Self.script(dir, "fds", "ls /proc/$$/fd")
        // A deadline far beyond what `ls` needs: on a loaded machine running the suite in
        // parallel, 10 s were once not enough and the empty output read as "no stdin".
        let exit = await HookProcess.run(
            HookInvocation(argv: [s], environment: ["PATH": "/usr/bin:/bin"], timeoutMs: 120_000))
        #expect(exit.ending == .exited(0), "\(exit.ending): \(exit.output)")
        let fds = exit.output.split(separator: "\n").compactMap { Int32($0) }
        #expect(!fds.contains(fd), "fd \(fd) leaked into the hook: \(fds)")
        #expect(fds.contains(0) && fds.contains(1) && fds.contains(2))
    }

    @Test func aForcedStopKillsTheHook() async throws {
        let dir = TempDir()
        let s = try Self.script(dir, "long", "sleep 300")
        let stop = Locked(false)
        // The stop comes from a thread of its own: a Task could wait behind other tests that
        // hold the cooperative pool's two threads on a 2-core machine (it once came after the
        // 60 s deadline, and the hook ended timed out instead of stopped).
        let stopper = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            stop.withLock { $0 = true }
        }
        stopper.start()
        var inv = HookInvocation(argv: [s], environment: ["PATH": "/usr/bin:/bin"], timeoutMs: 60_000)
        inv.killGraceMs = 300
        let exit = await HookProcess.run(inv) { stop.withLock { $0 } }
        #expect(exit.ending == .stopped)
    }
}
