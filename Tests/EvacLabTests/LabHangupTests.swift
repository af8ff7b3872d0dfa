import Foundation
import XCTest

extension LabEndToEndTests {
    /// The drain goes on when its shell goes away: SIGHUP to a running `evac apply` (as a closed
    /// ssh session sends it) changes nothing, and `evac status --follow` in another process shows
    /// the run live and exits with its code. The metrics file ends with the run's figures.
    func testHangupDoesNotStopADrainAndAFollowerSeesItEnd() throws {
        try Lab.reset()
        let dir = try Lab.tempDir("hup")
        let state = dir.appendingPathComponent("state")
        let plan = try Lab.writePlan(in: dir, name: "e2e-hup", perTarget: 1, bandwidth: "1MiB/s")
        let metrics = dir.appendingPathComponent("evac.prom").path
        let env = ["EVAC_STATE_DIR": state.path]
        let apply = try Lab.start(Lab.evac, ["apply", plan, "--output", "plain", "--metrics-file", metrics], env: env)
        XCTAssertTrue(apply.waitFor("running: attempt", timeout: 60), "\(apply.output())")
        let follower = try Lab.start(Lab.evac, ["status", "--follow", plan, "--output", "plain"], env: env)
        // SIGHUP (bit 0) and SIGPIPE (bit 12) are ignored by the running drain.
        let status = (try? String(contentsOfFile: "/proc/\(apply.pid)/status", encoding: .utf8)) ?? ""
        let ignored =
            status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }.flatMap {
                UInt64($0.split(separator: "\t").last ?? "", radix: 16)
            } ?? 0
        XCTAssertEqual(ignored & 0x1001, 0x1001, "SigIgn of the running apply: \(String(ignored, radix: 16))")
        XCTAssertEqual(kill(apply.pid, SIGHUP), 0)
        let out = apply.wait()
        XCTAssertEqual(out.status, 0, "the drain finished after SIGHUP: \(out)")
        let steps = try Journal(stateDir: state).steps().filter { $0.kind == "apply" }
        XCTAssertEqual(steps.count, Lab.home.count)
        XCTAssertTrue(steps.allSatisfy { $0.state == "done" }, "\(steps.map { ($0.guest, $0.state) })")

        let seen = follower.wait()
        XCTAssertEqual(seen.status, 0, "the follower exits with the run's code: \(seen)")
        XCTAssertEqual(
            seen.stdout.split(separator: "\n").filter { $0.contains(" done in ") }.count, Lab.home.count, seen.stdout)
        XCTAssertTrue(seen.stdout.contains("apply finished: all-done"), seen.stdout)

        let prom = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
        XCTAssertTrue(prom.contains("evac_migrations{state=\"done\"} \(Lab.home.count)"), prom)
        XCTAssertTrue(prom.contains("evac_run_finished 1"), prom)
        try? FileManager.default.removeItem(at: dir)
    }
}
