import Foundation
import XCTest

/// Hosts reached over `qemu+ssh://` as real ones are (issue 15): each lab host has an sshd in its
/// namespaces, the lab generated one key pair and a known_hosts with every host's key, and evac
/// runs as the lab's operator (`scripts/lab operator`), whose ssh uses them with strict host key
/// checking. The source daemons reach the targets over ssh too (the plan's target URI is their
/// peer-to-peer URI), inside their own namespaces.
extension LabEndToEndTests {
    /// Draining lab-2 with every connection over ssh: evac's own (inventory, pre-checks, the
    /// borrowed per-migration ones) and each source daemon's peer-to-peer connection, which the
    /// targets' sshd logs show coming from lab-2's address.
    func testDrainOverSSHWithEveryConnectionOverSSH() throws {
        try Lab.reset()
        let dir = try scratch("ssh")
        let state = dir.appendingPathComponent("state")
        let guests = Lab.home.filter { $0.value == 2 }.keys.sorted()
        let before = [3, 4].map { Lab.sshdAccepted(on: $0, from: 2) }
        let plan = try Lab.writePlan(in: dir, name: "e2e-ssh", sources: [2], uri: Lab.sshURI)
        XCTAssertFalse(try String(contentsOfFile: plan, encoding: .utf8).contains("qemu+unix"), "only ssh URIs")

        let dry = try Lab.asOperator(Lab.evac, ["apply", plan, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(dry.status, 0, "\(dry)")
        let apply = try Lab.asOperator(Lab.evac, ["apply", plan, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        for g in guests {
            let at = Lab.whereIs(g)
            XCTAssertEqual(at.count, 1, "\(g) is on \(at)")
            XCTAssertTrue([3, 4].contains(at.first ?? 0), "\(g) is on \(at)")
            XCTAssertEqual(at.first.flatMap { Lab.state(g, on: $0) }, "running", g)
        }
        let landed = Dictionary(grouping: guests) { Lab.whereIs($0).first ?? 0 }.mapValues(\.count)
        for (i, k) in [3, 4].enumerated() {
            guard (landed[k] ?? 0) > 0 else { continue }
            // Reset moved guests back over qemu+unix: any login from 10.213.0.2 is a p2p migration's,
            // and each migration opens its own.
            let p2p = Lab.sshdAccepted(on: k, from: 2) - before[i]
            XCTAssertGreaterThanOrEqual(p2p, landed[k] ?? 0, "lab-\(k)'s sshd saw lab-2's daemon log in per migration")
            XCTAssertGreaterThan(Lab.sshdAccepted(on: k, from: 254), 0, "evac connected to lab-\(k) over ssh")
        }
    }

    /// A host whose key is not in known_hosts is refused, not trusted: evac says so, naming the
    /// host, and no guest moves.
    func testUnknownHostKeyIsRefusedAndNothingMoves() throws {
        try Lab.reset()
        let dir = try scratch("ssh-unknown")
        let state = dir.appendingPathComponent("state")
        let knownHosts = "\(Lab.dir)/ssh/home/.ssh/known_hosts"
        let saved = try String(contentsOfFile: knownHosts, encoding: .utf8)
        defer { try? saved.write(toFile: knownHosts, atomically: true, encoding: .utf8) }
        let without = saved.split(separator: "\n").filter { !$0.hasPrefix("10.213.0.4 ") }
        XCTAssertEqual(without.count, Lab.hosts - 1, "known_hosts had one line for lab-4")
        try (without.joined(separator: "\n") + "\n").write(toFile: knownHosts, atomically: true, encoding: .utf8)

        let plan = try Lab.writePlan(in: dir, name: "e2e-ssh-unknown", sources: [2], targets: [4], uri: Lab.sshURI)
        let apply = try Lab.asOperator(Lab.evac, ["apply", plan, "--output", "plain"], state: state)
        XCTAssertNotEqual(apply.status, 0, "\(apply)")
        let said = apply.stdout + apply.stderr
        XCTAssertTrue(said.contains("lab-4"), said)
        XCTAssertTrue(said.contains("Host key verification failed"), said)
        XCTAssertTrue(said.contains("known_hosts"), "evac names what to fix: \(said)")
        for (g, h) in Lab.home where h == 2 {
            XCTAssertEqual(Lab.whereIs(g), [2], "\(g) stayed home")
            XCTAssertEqual(Lab.state(g, on: 2), "running", g)
        }
    }
}

extension Lab {
    /// Host lab-K over ssh, as `scripts/lab up` writes it into DIR/hosts.yaml.
    static func sshURI(_ k: Int) -> String { "qemu+ssh://root@10.213.0.\(k)/system" }

    /// `scripts/lab operator -- EXE ARGS…`: EXE as the lab's operator, whose ssh uses the lab's
    /// key and known_hosts.
    static func asOperator(_ exe: String, _ args: [String], state: URL) throws -> Output {
        try run(
            root.appendingPathComponent("scripts/lab").path, ["operator", "--dir", dir, "--", exe] + args,
            env: ["EVAC_STATE_DIR": state.path])
    }

    /// How many public-key logins lab-K's sshd accepted from 10.213.0.FROM (254: the operator).
    /// Counted over the whole log: callers take differences.
    static func sshdAccepted(on k: Int, from: Int) -> Int {
        let log = (try? String(contentsOfFile: "\(dir)/hosts/lab-\(k)/log/sshd.log", encoding: .utf8)) ?? ""
        // sshd -E ends its lines with "\r\n", one Character in Swift: `split(separator: "\n")`
        // left the whole log one line, so the count was 0 or 1 for ever after the first login.
        return log.split(whereSeparator: \.isNewline).filter {
            $0.contains("Accepted publickey for root from 10.213.0.\(from) ")
        }
        .count
    }
}
