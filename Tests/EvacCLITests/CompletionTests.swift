import Foundation
import Testing

/// The completion scripts scripts/install installs come from the commands themselves; bash
/// parses its script and it offers every subcommand and the new options.
struct CompletionTests {
    @Test func completionScriptsNameEverySubcommand() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try runEvac(["--generate-completion-script", shell])
            #expect(r.status == 0)
            for sub in ["plan", "inventory", "validate", "apply", "resume", "rollback", "status", "roll"] {
                #expect(r.stdout.contains(sub), "\(shell): \(sub)")
            }
            for option in ["--follow", "--metrics-file", "--log-file", "--verbose", "--window"] {
                #expect(
                    r.stdout.contains(shell == "fish" ? "-l '\(option.dropFirst(2))'" : option), "\(shell): \(option)")
            }
            if shell == "bash" {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "evac-completion-\(UUID().uuidString).bash")
                try r.stdout.write(to: file, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(at: file) }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/bash")
                p.arguments = ["-n", file.path]
                try p.run()
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "bash -n rejects the completion script")
            }
        }
    }

    @Test func versionNamesTheLibvirtLibrary() throws {
        let r = try runEvac(["--version"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("evac ") == true)
        // libvirt's own numbers, e.g. "libvirt 9.0.0 (library in use)".
        let v = lines.dropFirst().first.map(String.init) ?? ""
        #expect(
            v.range(of: #"^libvirt [0-9]+\.[0-9]+\.[0-9]+ \(library in use\)$"#, options: .regularExpression) != nil,
            "\(v)")
    }
}
