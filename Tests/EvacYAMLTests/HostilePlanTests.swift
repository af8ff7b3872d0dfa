import EvacCore
import EvacYAML
import Foundation
import Testing

/// Plans an attacker or a careless user writes (issue 9): each once crashed evac or was
/// accepted when it should not be.
@Suite struct HostilePlanTests {
    static let base = """
        version: 1
        name: t
        hosts:
          a: "qemu+ssh://root@a/system"
          b: "qemu+ssh://root@b/system"
        sources: [a]
        targets: [{ pool: p, hosts: [b] }]

        """

    func read(_ text: String) -> PlanDocument.Read { PlanDocument.read(bytes: Array(text.utf8), path: "t.yaml") }
    func errors(_ text: String) -> [Diagnostic] { read(text).diagnostics.filter { $0.severity == .error } }

    @Test(arguments: ["nan", "inf", "-inf", ".nan", "1e19", "9223372036854775808", "-9223372036854775809", "1e400"])
    func nonIntegersInIntegerFieldsAreErrorsNotTraps(_ value: String) {
        let version = errors(Self.base.replacingOccurrences(of: "version: 1", with: "version: \(value)"))
        #expect(version.contains { $0.message.hasPrefix("version must be an integer") })
        let total = errors(Self.base + "parallelism: { total: \(value) }\n")
        #expect(total.contains { $0.message.hasPrefix("parallelism.total must be an integer") })
    }

    @Test func wholeNumberHintStillGivenForSmallFractions() {
        let e = errors(Self.base + "parallelism: { total: 2.6 }\n")
        #expect(e.first?.help == "write a whole number such as 3")
    }

    @Test func unnamedAntiAffinityGroupNeverTakesAnExplicitName() {
        let text =
            Self.base + """
                constraints:
                  anti-affinity:
                    - { name: anti-affinity-2, guests: ["db-*"] }
                    - { guests: ["web-*"] }
                """
        let r = read(text)
        let names = r.spec?.constraints.antiAffinity.map(\.name) ?? []
        #expect(names.count == 2)
        #expect(Set(names).count == 2, "group names key the DAG's limits: \(names)")
    }

    @Test func unnamedPoolNeverTakesAnExplicitName() {
        let text = Self.base.replacingOccurrences(
            of: "targets: [{ pool: p, hosts: [b] }]",
            with: "targets: [{ pool: pool-2, hosts: [b] }, { hosts: [c] }]"
        )
        .replacingOccurrences(
            of: "  b: \"qemu+ssh://root@b/system\"",
            with: "  b: \"qemu+ssh://root@b/system\"\n  c: \"qemu+ssh://root@c/system\"")
        let pools = read(text).spec?.targetPools.map(\.name) ?? []
        #expect(pools.count == 2 && Set(pools).count == 2, "\(pools)")
    }

    @Test func zeroProgressTimeoutIsRefused() {
        let e = errors(Self.base + "migration: { progress-timeout: 0s }\n")
        #expect(e.map(\.message) == ["progress-timeout must be from 1s to 24h, found 0s"])
    }

    @Test func absurdDowntimeIsRefused() {
        let e = errors(Self.base + "migration: { max-downtime: 99999999h }\n")
        #expect(e.first?.message.hasPrefix("max-downtime must be from 1ms to 33m20s") == true, "\(e)")
        #expect(errors(Self.base + "migration: { max-downtime: 2000s }\n").isEmpty)
        #expect(!errors(Self.base + "migration: { timeout: 30d }\n").isEmpty)
    }

    @Test func overflowingRatioSaysWhatIsWrong() {
        let e = errors(Self.base + "constraints: { max-vcpu-ratio: 1e400 }\n")
        #expect(e.map(\.message) == ["max-vcpu-ratio must be a finite number below 1e9, found 1e400"])
    }

    @Test func invalidUTF8IsReportedWhereItIs() {
        var bytes = Array(Self.base.utf8)
        bytes += Array("description: caf".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let r = PlanDocument.read(bytes: bytes, path: "t.yaml")
        let d = r.diagnostics.first
        #expect(d?.mark == Mark(line: 8, column: 17))
        #expect(d?.message.contains("not valid UTF-8") == true)
        // A truncated sequence at the very end too.
        let end = PlanDocument.read(bytes: Array("name: x\n".utf8) + [0xE2, 0x82], path: "t.yaml")
        #expect(end.diagnostics.first?.mark == Mark(line: 2, column: 1))
    }

    @Test func largeFleetWithoutAliasesIsAccepted() {
        let n = 100_000
        var text = "version: 1\nname: big\nhosts:\n"
        for i in 0..<n { text += "  h\(i): \"qemu+ssh://root@h\(i)/system\"\n" }
        text += "sources: [" + (0..<n / 2).map { "h\($0)" }.joined(separator: ", ") + "]\n"
        text += "targets: [{ pool: p, hosts: [" + (n / 2..<n).map { "h\($0)" }.joined(separator: ", ") + "] }]\n"
        let r = read(text)
        #expect(r.diagnostics.filter { $0.severity == .error }.isEmpty, "\(r.diagnostics.prefix(3))")
        #expect(r.spec?.hosts.count == n)
    }

    /// Rendering looks each line up in an index: 20,000 errors on a 20,000-line plan used to
    /// rescan the text from the start for each one (about 10^10 steps here).
    @Test func manyDiagnosticsOnALargePlanRender() {
        var text = "version: 1\nname: big\nhosts:\n"
        for i in 0..<20_000 { text += "  h\(i): \"not a uri \(i)\"\n" }
        text += "sources: [h0]\ntargets: [{ hosts: [h1] }]\n"
        let r = read(text)
        let rendered = DiagnosticRenderer.render(r.diagnostics, sources: ["t.yaml": r.source])
        #expect(r.diagnostics.count >= 20_000)
        #expect(rendered.contains("h19999: \"not a uri 19999\""))
    }

    @Test func aliasBombIsStillRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...6 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let e = errors(text)
        #expect(e.first?.message == "aliases expand to more than 100000 nodes beyond those written out")
    }

    @Test func oversizedPlanIsRefusedBeforeParsing() {
        let bytes = [UInt8](repeating: UInt8(ascii: "#"), count: PlanDocument.maxBytes + 1)
        let r = PlanDocument.read(bytes: bytes, path: "t.yaml")
        #expect(r.diagnostics.first?.message.contains("at most 32 MiB") == true)
    }

    @Test(arguments: [
        ("qemu+ext:///system?command=/tmp/prog", "ext transport"),
        ("qemu+ssh://root@a/system?command=/tmp/prog", "command="),
        ("qemu+ssh://root@a/system?netcat=nc%3Bid", "netcat="),
        ("qemu+ssh://root@a/system?socket=/run/x;id", "socket"),
        ("qemu+ssh://root@a/system?socket=%2Frun%2Fx%3Bid", "socket"),
        ("qemu+tls://a/system?no_verify=1", "no_verify"),
        ("qemu+libssh2://root@a/system?known_hosts_verify=ignore", "known_hosts_verify"),
        ("qemu+ssh://root@a/system?keyfile=~/.ssh/id", "keyfile"),
        ("qemu+ssh://root:pw@a/system", "password"),
        ("qemu+ssh://root@x:secret@a/system", "password"),
        ("qemu+ssh://root%3Apw@a/system", "password"),
        ("qemu+ssh://-oProxyCommand=id/system", "host name"),
        ("qemu+ssh://root@a/system?frobnicate=1", "unknown URI parameter"),
        ("qemu+ssh://root@a/sys'tem", "remote shell"),
    ])
    func riskyURIsAreRefusedAtTheirPosition(_ uri: String, _ word: String) {
        let text = Self.base.replacingOccurrences(of: "a: \"qemu+ssh://root@a/system\"", with: "a: \"\(uri)\"")
        let e = errors(text)
        #expect(
            e.contains { $0.message.contains(word) && $0.mark == Mark(line: 4, column: 6) },
            "\(uri): \(e.map(\.message))")
        #expect(read(text).spec == nil)
    }

    @Test func anAcceptedRiskIsCarriedIntoTheSpec() {
        let text = Self.base.replacingOccurrences(
            of: "a: \"qemu+ssh://root@a/system\"",
            with: "a: { uri: \"qemu+tls://a/system?no_verify=1\", allow-uri-risks: [unverified-peer] }")
        let r = read(text)
        #expect(r.spec?.host("a")?.allowURIRisks == [.unverifiedPeer], "\(r.diagnostics)")
        let wrong = Self.base.replacingOccurrences(
            of: "a: \"qemu+ssh://root@a/system\"",
            with: "a: { uri: \"qemu+tls://a/system?no_verify=1\", allow-uri-risks: [remote-shell] }")
        #expect(read(wrong).spec == nil)
    }

    @Test func terminalEscapesInNamesAreEscapedInDiagnostics() {
        let text = Self.base + "select: { include: \"\\e]0;pwned\\a[\" }\n"
        let r = read(text)
        let rendered = DiagnosticRenderer.render(r.diagnostics, sources: ["t.yaml": r.source])
        #expect(!rendered.contains("\u{1B}"), "\(rendered.debugDescription)")
        #expect(rendered.contains("\\e]0;pwned\\u{7}["))
    }
}
