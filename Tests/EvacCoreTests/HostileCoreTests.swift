import Foundation
import Testing

@testable import EvacCore

/// The core's side of issue 9: URI parsing, redaction and policy; saved inputs that once
/// trapped (negative CPUs, duplicate ids, NaN estimates); terminal escaping.
@Suite struct HostileCoreTests {
    // MARK: URIs

    @Test func userInformationEndsAtTheLastAt() throws {
        let u = try LibvirtURI.parse("qemu+ssh://user@x:secret@host:2222/system?socket=/s").get()
        #expect(u.userInfo == "user@x:secret")
        #expect(u.host == "host" && u.port == "2222" && u.path == "/system")
        #expect(u.hasPassword)
        #expect(u.parameters.map(\.name) == ["socket"])
    }

    @Test(arguments: [
        ("qemu+ssh://root:pw@h/system", "qemu+ssh://root:***@h/system"),
        ("qemu+ssh://user@x:secret@host/system", "qemu+ssh://user@x:***@host/system"),
        ("qemu+tcp://u:p@h", "qemu+tcp://u:***@h"),
        ("qemu+ssh://root%3Apw@h/system", "qemu+ssh://***@h/system"),
        ("qemu+ssh://root@h/system", "qemu+ssh://root@h/system"),
        (
            "Unable to parse URI qemu+tcp://a:b@c:d@e/x and qemu+tls://u:v@w/",
            "Unable to parse URI qemu+tcp://a:***@e/x and qemu+tls://u:***@w/"
        ),
        (
            "failed to connect to 'qemu+ssh://root:pw@h/system': refused",
            "failed to connect to 'qemu+ssh://root:***@h/system': refused"
        ),
    ])
    func passwordsAreRedactedWhereverAURIAppears(_ raw: String, _ redacted: String) {
        #expect(LibvirtURI.redactText(raw) == redacted)
        #expect(!LibvirtURI.redactText(raw).contains("secret") && !LibvirtURI.redactText(raw).contains(":pw@"))
    }

    @Test(arguments: [
        "qemu:///system", "qemu+ssh://root@kvm-12a/system", "test:///default", "qemu+tls://[2001:db8::1]:16514/system",
        "qemu+unix:///system?socket=/tmp/evac-lab/hosts/lab-1/run/libvirt-sock",
        "qemu+ssh://root@h/system?keyfile=/root/.ssh/id_ed25519&no_tty=1",
        "qemu+libssh2://h/system?known_hosts=/etc/ssh/known&known_hosts_verify=normal&sshauth=agent,privkey",
        "test:///{plan-dir}/hosts/kvm-12a.xml",
        "qemu+tls://h/system?pkipath=/etc/pki/evac&tls_priority=NORMAL:-VERS-TLS1.0",
    ])
    func ordinaryURIsPass(_ uri: String) {
        #expect(URIPolicy.check(uri).isEmpty, "\(URIPolicy.check(uri))")
    }

    /// `URIPolicy.isPlain` (the byte-level fast path) accepts only URIs in which the full check
    /// finds nothing: variants of ordinary URIs with one character inserted or removed.
    @Test func thePlainFormIsOnlyWhatTheFullCheckPasses() {
        let seeds = [
            "qemu+ssh://kvm-00001/system", "qemu:///system", "test:///default", "qemu+tls://h.example.com/system",
            "qemu+unix:///session", "qemu+libssh2://a_b.c-d/system",
        ]
        let inserts = [
            ":", "@", "?", "#", "%", "+", "-", " ", "\u{1}", "\u{7F}", "\u{85}", "é", "[", "]", "/", ".", "_", "A", "9",
            "ext", "x=1", "'", ";", "$(", "`", "\\", "~", "*",
        ]
        var accepted = 0
        for seed in seeds {
            #expect(URIPolicy.isPlain(seed), "\(seed)")
            let chars = Array(seed)
            var variants: [String] = chars.indices.map { i in
                var c = chars
                c.remove(at: i)
                return String(c)
            }
            for i in 0...chars.count {
                for insert in inserts { variants.append(String(chars[..<i]) + insert + String(chars[i...])) }
            }
            for v in variants where URIPolicy.isPlain(v) {
                accepted += 1
                #expect(URIPolicy.parsedProblems(v).isEmpty, "\(v): \(URIPolicy.parsedProblems(v))")
            }
        }
        #expect(accepted > 100, "the fast path takes ordinary variants")
        for other in [
            "qemu+ext:///system", "qemu+ssh://-oProxyCommand=x/system", "qemu+ssh://root@h/system",
            "qemu+ssh://h:22/system",
            "qemu+ssh://h/system?no_verify=1", "qemu+foo://h/system", "Qemu://h/system", "qemu+ssh://h/sys tem", "qemu",
            "", "qemu+://h/system", "qemu:/system",
        ] {
            #expect(!URIPolicy.isPlain(other), "\(other)")
        }
    }

    @Test func risksCanBeAcceptedOneByOne() {
        let uri = "qemu+ext:///system?command=/usr/local/bin/tunnel"
        #expect(Set(URIPolicy.check(uri).compactMap(\.risk)) == [.localCommand])
        #expect(URIPolicy.check(uri, allowed: [.localCommand]).isEmpty)
        // Credentials can never be accepted.
        #expect(!URIPolicy.check("qemu+ssh://r:p@h/system", allowed: Set(URIPolicy.Risk.allCases)).isEmpty)
        #expect(!URIPolicy.check("qemu+ssh://h/system\u{1B}[2J").isEmpty)
    }

    // MARK: inventory snapshots

    func snapshot(cpus: Int = 8, vcpus: Int = 2, uri: String = "qemu+ssh://a/system") -> Data {
        let g = Guest(uuid: "u1", name: "g1", state: .running, memoryKiB: 1024, vcpus: vcpus)
        let h = HostInventory(
            name: "a", uri: uri, memoryKiB: 1 << 20, cpus: cpus, cpu: HostCPU(vendor: "", model: "", features: []),
            guests: [g])
        return Inventory(hosts: [h]).encodedSnapshot()
    }

    @Test func negativeCPUsNeitherTrapTheFingerprintNorPass() {
        for data in [snapshot(cpus: -1), snapshot(vcpus: -1)] {
            let inv = try? JSONDecoder().decode(Inventory.self, from: data)
            #expect(inv?.fingerprint.count == 64)
            guard case .failure(let e) = Inventory.decodeSnapshot(data) else {
                Issue.record("accepted")
                continue
            }
            #expect(e.message.contains("CPUs"))
        }
        guard case .success = Inventory.decodeSnapshot(snapshot()) else {
            Issue.record("a good snapshot was refused")
            return
        }
    }

    @Test func snapshotURIsFollowThePolicy() {
        guard case .failure(let e) = Inventory.decodeSnapshot(snapshot(uri: "qemu+tcp://root:pw@a/system")) else {
            Issue.record("accepted")
            return
        }
        #expect(e.message.contains("password"))
        let ext = snapshot(uri: "qemu+ext:///system?command=/bin/x")
        guard case .failure = Inventory.decodeSnapshot(ext) else {
            Issue.record("accepted")
            return
        }
        guard case .success = Inventory.decodeSnapshot(ext, allowed: { _ in [.localCommand] }) else {
            Issue.record("opt-in ignored")
            return
        }
    }

    // MARK: plan files

    func planFile(_ edit: (inout PlanFile) -> Void = { _ in }) -> PlanFile {
        let node = { (id: Int, after: [Int]) in
            MigrationGraph.Node(
                id: id,
                placement: Placement(
                    guest: "g\(id)", uuid: "u\(id)", source: "a", target: "b", memoryKiB: 1024, vcpus: 1, mode: .live),
                after: after, groups: ["db"])
        }
        let graph = MigrationGraph(
            nodes: [node(1, []), node(2, [1])],
            limits: .init(total: 2, perSource: 1, perTarget: 1, groups: [.init(name: "db", maxInFlight: 1)]))
        var spec = PlanSpec(
            name: "p",
            hosts: [HostSpec(name: "a", uri: "qemu+ssh://a/system"), HostSpec(name: "b", uri: "qemu+ssh://b/system")],
            sources: [Located("a")], targetPools: [TargetPool(name: "t", hosts: [Located("b")])])
        spec.migration.maxDowntimeMs = 300
        var p = PlanFile(
            spec: spec, planSource: .init(path: "p.yaml", sha256: ""), inventory: Inventory(hosts: []),
            result: PlacementResult(placements: [], unplaceable: [], skipped: [], targets: [], notes: []),
            graph: graph, timeline: Timeline.estimate(graph, bandwidth: nil), hashed: false)
        edit(&p)
        p.planHash = p.computedHash
        return p
    }

    func decodeError(_ p: PlanFile) -> String? {
        if case .failure(let e) = PlanFile.decode(p.encoded()) { return e.message }
        return nil
    }

    @Test func aSealedPlanDecodes() {
        #expect(decodeError(planFile()) == nil)
    }

    @Test func editsThatKeepTheHashAreCaught() {
        var p = planFile()
        p.hosts[0].uri = "qemu+ext:///system?command=/tmp/prog"
        #expect(decodeError(p)?.contains("modified after it was written") == true)
    }

    @Test func craftedButSealedPlanFilesAreRefused() {
        let cases: [(String, (inout PlanFile) -> Void, String)] = [
            (
                "duplicate ids",
                { (p: inout PlanFile) in
                    p.graph.nodes[1].id = 1
                    p.graph.nodes[1].after = []
                }, "listed twice"
            ),
            ("cycle", { (p: inout PlanFile) in p.graph.nodes[0].after = [2] }, "cycle"),
            ("missing edge", { (p: inout PlanFile) in p.graph.nodes[1].after = [99] }, "not in the plan"),
            (
                "duplicate group",
                { (p: inout PlanFile) in p.graph.limits.groups.append(.init(name: "db", maxInFlight: 2)) },
                "listed twice"
            ),
            ("zero limit", { (p: inout PlanFile) in p.graph.limits.total = 0 }, "parallelism total"),
            ("negative estimate", { (p: inout PlanFile) in p.estimatedDurationMs = -1 }, "estimated duration"),
            (
                "ext URI", { (p: inout PlanFile) in p.hosts[0].uri = "qemu+ext:///system?command=/tmp/prog" },
                "ext transport"
            ),
            ("password", { (p: inout PlanFile) in p.hosts[0].uri = "qemu+tcp://root:secret@a/system" }, "password"),
            ("no progress", { (p: inout PlanFile) in p.policy.migration.progressTimeoutMs = 0 }, "progress-timeout"),
            ("no ratio", { (p: inout PlanFile) in p.policy.constraints.maxVCPURatio = -1 }, "max-vcpu-ratio"),
            ("negative vcpus", { (p: inout PlanFile) in p.graph.nodes[0].placement.vcpus = -1 }, "out of range"),
            (
                "no connect time", { (p: inout PlanFile) in p.connection = ConnectionSettings(connectTimeoutMs: 0) },
                "connection.connect-timeout"
            ),
            (
                "endless calls", { (p: inout PlanFile) in p.connection = ConnectionSettings(callTimeoutMs: .max) },
                "connection.call-timeout"
            ),
            (
                "retry storm",
                { (p: inout PlanFile) in p.policy.migration.retry = RetryPolicy(attempts: 1_000_000, backoffMs: 0) },
                "retry"
            ),
        ]
        for (what, edit, word) in cases {
            let message = decodeError(planFile(edit))
            #expect(message?.contains(word) == true, "\(what): \(message ?? "accepted")")
        }
    }

    /// The error of decoding `p`'s encoding after `edit` changed its JSON members.
    func decodeError(_ p: PlanFile, json edit: (inout [String: Any]) -> Void) throws -> PlanFileError? {
        var object = try #require(JSONSerialization.jsonObject(with: p.encoded()) as? [String: Any])
        edit(&object)
        if case .failure(let e) = PlanFile.decode(try JSONSerialization.data(withJSONObject: object)) { return e }
        return nil
    }

    @Test func aPlanFileOfAnotherVersionIsRefusedByItsVersion() throws {
        // The layout of format 1: the policy's members loose at the top level.
        let sealed = planFile()
        let v1 = try decodeError(sealed) { o in
            o["formatVersion"] = 1
            o["evacVersion"] = "0.0.9"
            o["migration"] = o["policy"].flatMap { ($0 as? [String: Any])?["migration"] }
            o["onFailure"] = "continue"
            o["memoryReserveKiB"] = 0
            o["policy"] = nil
        }
        #expect(
            v1?.message
                == "plan file format version 1 (written by evac 0.0.9) is not the version this evac (\(EvacVersion.current)) reads, 2"
        )
        #expect(v1?.help?.contains("re-run `evac plan PLAN.yaml --output json -o FILE`") == true)
        // A later version that happens to decode as this one is refused all the same.
        let later = planFile { $0.formatVersion = 3 }
        #expect(decodeError(later)?.contains("format version 3") == true)
        let other = try decodeError(sealed) { $0["format"] = "kubectl-drain" }
        #expect(other?.message == "not an evac plan file: its format is kubectl-drain, not evac-planfile")
        // A file with no format at all is described by what it misses.
        let bare = try decodeError(sealed) { $0["format"] = nil }
        #expect(bare?.message == "not an evac plan file: missing 'format' at /")
    }

    @Test func timelineOfACraftedGraphDoesNotTrap() {
        let p = planFile {
            $0.graph.nodes[1].id = 1
            $0.graph.limits.groups.append(.init(name: "db", maxInFlight: 2))
        }
        let t = Timeline.estimate(p.graph, bandwidth: nil)
        #expect(t.entries.count <= 2)
    }

    // MARK: figures and text

    @Test func formattingNeverTrapsOnSavedFigures() {
        #expect(Format.duration(ms: .nan) == "?")
        #expect(Format.duration(ms: 1e300) == ">30000 years")
        #expect(Format.bytes(.infinity) == "? B")
        #expect(Format.kib(signed: .min).hasPrefix("-"))
        let usage = TargetUsage(
            host: "h", memoryKiB: .max, reserveKiB: 0, usedBeforeKiB: 0, usedAfterKiB: .max,
            cpus: 1, vcpusBefore: 0, vcpusAfter: 0, incoming: 0)
        #expect(usage.headroomAfterKiB == 0)
        let over = TargetUsage(
            host: "h", memoryKiB: 0, reserveKiB: .max, usedBeforeKiB: 0, usedAfterKiB: .max,
            cpus: 1, vcpusBefore: 0, vcpusAfter: 0, incoming: 0)
        #expect(over.headroomAfterKiB == .min)
        #expect(MigrationOptions.Timeout.perGiB(milliseconds: .max).milliseconds(forMemoryKiB: .max) == .max)
    }

    @Test func controlCharactersAreMadeVisible() {
        #expect(TerminalText.escape("vm\u{1B}]0;x\u{07}\nfake\r\u{202E}") == "vm\\e]0;x\\u{7}\\nfake\\r\\u{202E}")
        #expect(TerminalText.escape("plain-name_1.ü") == "plain-name_1.ü")
        #expect(TerminalText.escapeKeepingLines("a\u{1B}\nb\tc") == "a\\e\nb\tc")
    }
}
