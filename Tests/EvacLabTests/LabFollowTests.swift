import Foundation
import XCTest

extension LabEndToEndTests {
    /// `evac status --follow` in other processes shows the live figures of a drain that a
    /// separate `evac apply` makes — a RAM-dirtying guest under a bandwidth cap with guests
    /// queued behind it (one migration at a time) — and ends with the run's outcome and exit
    /// code. One follower writes JSON Lines (the journaled samples, with libvirt's memory
    /// figures), one draws the terminal display on a pseudo-terminal (`script`), as an operator
    /// attaching from another ssh session sees it.
    func testFollowerShowsTheLiveDisplayOfARunInAnotherProcess() throws {
        try Lab.reset(extraGuests: ["dirty-1"])
        defer { Lab.removeEverywhere("dirty-1") }
        let dirty = try Lab.lab(["guest-dirty", "1", "dirty-1", "256"])
        XCTAssertEqual(dirty.status, 0, "\(dirty)")
        let dir = try scratch("follow")
        let state = dir.appendingPathComponent("state")
        let plan = try Lab.writePlan(
            in: dir, name: "e2e-follow", sources: [1], targets: [3], include: ["dirty-*", "web-*"], perTarget: 1,
            perSource: 1, total: 1, bandwidth: "16MiB/s")
        // The dirtier rewrites its ~60 MiB working set as fast as a pass goes (its dirty rate
        // follows the cap: it never converges at 300 ms). 5 s at 16 MiB/s (80 MiB) covers the
        // working set but not the 256 MiB guest: QEMU ends the copy after the first pass, some
        // 4 s in (with a bound covering all of it, it would go to its unthrottled last stage at once).
        let yaml = try String(contentsOfFile: plan, encoding: .utf8)
        try yaml.replacingOccurrences(of: "max-downtime: 300ms", with: "max-downtime: 5s")
            .write(toFile: plan, atomically: true, encoding: .utf8)
        let env = ["EVAC_STATE_DIR": state.path]
        let apply = try Lab.start(Lab.evac, ["apply", plan, "--output", "plain"], env: env)
        XCTAssertTrue(apply.waitFor("running: attempt", timeout: 60), "\(apply.output())")
        let json = try Lab.start(Lab.evac, ["status", "--follow", plan, "--output", "json"], env: env)
        let screen = dir.appendingPathComponent("screen.txt").path
        let command = [Lab.evac, "status", "--follow", plan].map { "'\($0)'" }.joined(separator: " ")
        let tty = try Lab.start(
            "/usr/bin/script", ["-q", "-e", "-f", "-c", command, screen],
            env: env.merging(["TERM": "xterm", "NO_COLOR": "1"]) { $1 })

        let applied = apply.wait()
        XCTAssertEqual(applied.status, 0, "\(applied)")
        XCTAssertEqual(Lab.whereIs("dirty-1"), [3])

        let followed = json.wait()
        XCTAssertEqual(followed.status, applied.status, "the follower exits with the run's code: \(followed)")
        var samples: [[String: Any]] = []
        var finished: [String: Any]?
        for line in followed.stdout.split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let data = o["data"] as? [String: Any]
            else { continue }
            if o["event"] as? String == "progress", data["guest"] as? String == "dirty-1",
                let p = data["progress"] as? [String: Any]
            {
                samples.append(p)
            }
            if o["event"] as? String == "run-finished" { finished = data }
        }
        XCTAssertFalse(samples.isEmpty, "journaled progress reached the follower: \(followed.stdout)")
        // libvirt's memory figures, as the display works percent and remaining from them.
        XCTAssertTrue(
            samples.contains { ($0["memoryTotal"] as? Int ?? 0) > 0 && ($0["memoryRemaining"] as? Int ?? 0) > 0 },
            "\(samples)")
        XCTAssertEqual(finished?["status"] as? String, "all-done", followed.stdout)

        let drawn = tty.wait()
        XCTAssertEqual(drawn.status, applied.status, "script -e passes the follower's exit code: \(drawn)")
        let text = (try? String(contentsOfFile: screen, encoding: .utf8)) ?? ""
        // A live line of the dirtying guest: percent, what is left and its time, rate, pass, dirty rate.
        let live = text.components(separatedBy: CharacterSet(charactersIn: "\r\n")).filter {
            $0.contains("dirty-1") && $0.contains("% ") && $0.contains(" left ") && $0.contains(" iter ")
        }
        XCTAssertFalse(live.isEmpty, "the follower drew dirty-1's live line: \(text.suffix(3000))")
        XCTAssertTrue(live.allSatisfy { !$0.contains("100%") || $0.contains(" 0 MiB left") }, "\(live)")
        XCTAssertTrue(text.contains("· ETA "), "the overall bar")
        XCTAssertTrue(text.contains("apply finished: all-done"), "\(text.suffix(2000))")
        print("follower drew \(live.count) live line(s) of dirty-1; last: \(live.last ?? "-")")
    }
}
