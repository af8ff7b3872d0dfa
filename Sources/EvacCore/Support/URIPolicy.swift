/// What evac lets a host URI ask of libvirt. A plan is data, yet some URIs make libvirt run a
/// local program (`qemu+ext`, `command=`), put text into the remote `sh -c` that the ssh
/// transport runs (`netcat=`, a `socket=` or path with shell characters), or skip verifying the
/// peer (`no_verify=1`, `known_hosts_verify=ignore`). Those are refused unless the host opts in
/// with `allow-uri-risks:` naming the risk; credentials and malformed parts are refused always.
///
/// Parameters are those of libvirt's remote driver (libvirt.org/uri.html, remote.html and
/// src/remote/remote_driver.c) plus `authfile` (src/util/virauth.c); any other is refused,
/// since evac cannot say what it would do.
public enum URIPolicy {
    /// A risk a host can accept with `allow-uri-risks: [NAME]`.
    public enum Risk: String, Hashable, Sendable, Codable, CaseIterable {
        /// libvirt runs a program on this machine (ext transport, `command=`), as evac's user.
        case localCommand = "local-command"
        /// Text from the URI reaches the remote shell of the ssh transport (`netcat=`, a
        /// `socket=`, `name=` or path with characters other than letters, digits and `/._-`).
        case remoteShell = "remote-shell"
        /// The peer's identity is not checked (`no_verify=1`, `known_hosts_verify=ignore|auto`).
        case unverifiedPeer = "unverified-peer"
    }

    /// One reason a URI is refused.
    public struct Problem: Hashable, Sendable {
        /// What is wrong, naming the offending part of the URI.
        public var message: String
        /// How to fix it, or how to accept the risk.
        public var help: String
        /// The risk that `allow-uri-risks` accepts; nil when nothing can accept it.
        public var risk: Risk?
    }

    static let transports: Set<String> = ["unix", "ssh", "libssh", "libssh2", "tls", "tcp", "ext"]
    static let shellTransports: Set<String> = ["ssh", "libssh", "libssh2"]
    static let pathParameters: Set<String> = ["keyfile", "known_hosts", "pkipath", "authfile"]

    /// Every problem of `text` that `allowed` does not accept (credentials first).
    public static func check(_ text: String, allowed: Set<Risk> = []) -> [Problem] {
        problems(text).filter { $0.risk == nil || !allowed.contains($0.risk!) }
    }

    /// Every problem of `text`, whatever is allowed.
    public static func problems(_ text: String) -> [Problem] {
        isPlain(text) ? [] : parsedProblems(text)
    }

    /// Whether `text` has the form nearly every plan and snapshot uses and nothing this policy
    /// refuses: `driver[+transport]://[host][/path]` in ASCII, the driver lowercase letters and
    /// digits, the transport one of `transports` but ext, the host a plain name (`isName`), the
    /// path plain (`isPlainPath`); no user, port, query or fragment. Decided on the bytes, since
    /// `evac plan` checks every host's URI in the plan and again in the snapshot: parsing all of
    /// them by `Character` was 5 % of the CPU of a 10,000-host plan. `parsedProblems` finds
    /// nothing in what this accepts (`HostileCoreTests` checks that on variants of real URIs).
    static func isPlain(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { u in
            func lowerAlnum(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) }
            func nameByte(_ c: UInt8) -> Bool {
                lowerAlnum(c) || (0x41...0x5A).contains(c) || c == 0x2E || c == 0x5F || c == 0x2D
            }
            var i = 0
            guard i < u.count, (0x61...0x7A).contains(u[i]) else { return false }
            while i < u.count, lowerAlnum(u[i]) { i += 1 }
            if i < u.count, u[i] == 0x2B {
                i += 1
                let start = i
                while i < u.count, lowerAlnum(u[i]) { i += 1 }
                let transport = String(decoding: UnsafeBufferPointer(rebasing: u[start..<i]), as: UTF8.self)
                guard transport != "ext", transports.contains(transport) else { return false }
            }
            guard u.count - i >= 3, u[i] == 0x3A, u[i + 1] == 0x2F, u[i + 2] == 0x2F else { return false }
            i += 3
            guard i == u.count || u[i] != 0x2D else { return false } // a host starting with "-"
            while i < u.count, nameByte(u[i]) { i += 1 }
            guard i == u.count || u[i] == 0x2F else { return false }
            while i < u.count, nameByte(u[i]) || u[i] == 0x2F { i += 1 }
            return i == u.count
        }
    }

    /// Every problem of `text`, found by taking it apart (`LibvirtURI.parse`).
    static func parsedProblems(_ text: String) -> [Problem] {
        if let bad = text.unicodeScalars.first(where: {
            $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value)
        }) {
            return [
                Problem(
                    message: "the URI contains the control character U+\(hex(bad.value))",
                    help: "remove it; a URI is printable text", risk: nil)
            ]
        }
        let uri: LibvirtURI
        switch LibvirtURI.parse(text) {
        case .success(let u): uri = u
        case .failure(let e):
            return [
                Problem(
                    message: "'\(text)' is not a libvirt URI: \(e.reason)",
                    help: "write e.g. qemu+ssh://root@HOST/system or qemu:///system", risk: nil)
            ]
        }
        var out: [Problem] = []
        if uri.hasPassword {
            out.append(
                Problem(
                    message: "the URI contains a password",
                    help: "use SSH keys or libvirt's auth.conf; never put credentials in a plan", risk: nil))
        }
        out += authorityProblems(uri)
        if let t = uri.transport {
            if !transports.contains(t) {
                out.append(
                    Problem(
                        message: "unknown libvirt transport '\(t)'",
                        help: "use one of \(transports.sorted().filter { $0 != "ext" }.joined(separator: ", "))",
                        risk: nil))
            } else if t == "ext" {
                out.append(
                    Problem(
                        message: "the ext transport makes libvirt run the program named by command=",
                        help: "use ssh, tls or unix; or accept it with `allow-uri-risks: [local-command]` on this host",
                        risk: .localCommand))
            }
        }
        if uri.fragment != nil {
            out.append(
                Problem(message: "the URI has a '#' fragment, which libvirt does not use", help: "remove it", risk: nil)
            )
        }
        let viaShell = uri.transport.map(shellTransports.contains) ?? false
        if viaShell, !isPlainPath(uri.path, allowEmpty: true) {
            out.append(
                Problem(
                    message: "the path '\(uri.path)' has characters the ssh transport passes to the remote shell",
                    help:
                        "use a path of letters, digits and '/._-' such as /system; or accept it with `allow-uri-risks: [remote-shell]`",
                    risk: .remoteShell))
        }
        var seen: Set<String> = []
        for (name, value) in uri.parameters {
            if !seen.insert(name).inserted {
                out.append(Problem(message: "parameter '\(name)' is given twice", help: "give it once", risk: nil))
                continue
            }
            if let p = parameterProblem(name, value, viaShell: viaShell) { out.append(p) }
        }
        return out
    }

    static func authorityProblems(_ uri: LibvirtURI) -> [Problem] {
        var out: [Problem] = []
        if let user = uri.user, !uri.hasPassword {
            if uri.userInfo!.contains("@") || uri.userInfo!.contains("%") || !isName(user) {
                out.append(
                    Problem(
                        message: "the user name '\(uri.userInfo!)' is not a plain name",
                        help: "write user@host with letters, digits and '._-' in the user name", risk: nil))
            }
        }
        let host = uri.host
        if host.hasPrefix("[") {
            if !host.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) {
                out.append(Problem(message: "'\(host)' is not an IPv6 address", help: "write [2001:db8::1]", risk: nil))
            }
        } else if !host.isEmpty && !isName(host) {
            out.append(
                Problem(
                    message: "the host name '\(host)' is not a plain DNS name",
                    help: "use letters, digits, '.', '-' and '_', not starting with '-'", risk: nil))
        }
        if let port = uri.port,
            !(port.count <= 5 && !port.isEmpty && port.allSatisfy({ $0.isASCII && $0.isNumber })
                && (1...65535).contains(Int(port) ?? 0))
        {
            out.append(
                Problem(message: "port '\(port)' is not a number from 1 to 65535", help: "write host:PORT", risk: nil))
        }
        return out
    }

    /// What is wrong with the URI parameter `name=value`; nil when nothing is.
    static func parameterProblem(_ name: String, _ value: String, viaShell: Bool) -> Problem? {
        riskProblem(name, value)
    }

    /// The parameters that can make libvirt run a command, reach a shell or skip verifying the
    /// peer (what `allow-uri-risks` can accept): what this value risks, nil when nothing. Other
    /// parameters go on to `formProblem`.
    private static func riskProblem(_ name: String, _ value: String) -> Problem? {
        switch name {
        case "command":
            return Problem(
                message: "command= makes libvirt run '\(value)' on this machine",
                help: "remove it; or accept it with `allow-uri-risks: [local-command]` on this host",
                risk: .localCommand)
        case "netcat":
            return Problem(
                message: "netcat= is run by the remote shell of the ssh transport",
                help:
                    "remove it (libvirt finds nc or virt-ssh-helper itself); or accept it with `allow-uri-risks: [remote-shell]`",
                risk: .remoteShell)
        case "socket":
            return isPlainPath(value, allowEmpty: false)
                ? nil
                : Problem(
                    message:
                        "socket '\(value)' is not a plain absolute path (libvirt passes it to the remote shell unquoted)",
                    help:
                        "use an absolute path of letters, digits and '/._-'; or accept it with `allow-uri-risks: [remote-shell]`",
                    risk: .remoteShell)
        case "name":
            return value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+:/._-".contains($0)) })
                ? nil
                : Problem(
                    message: "name= '\(value)' has characters that can reach the remote shell",
                    help:
                        "use a libvirt URI such as qemu:///system; or accept it with `allow-uri-risks: [remote-shell]`",
                    risk: .remoteShell)
        case "no_verify":
            return value == "0"
                ? nil
                : Problem(
                    message: "no_verify=\(value) turns off checking the server's certificate or host key",
                    help:
                        "remove it and install the CA / known host; or accept it with `allow-uri-risks: [unverified-peer]`",
                    risk: .unverifiedPeer)
        case "known_hosts_verify":
            switch value {
            case "normal": return nil
            case "auto", "ignore":
                return Problem(
                    message: "known_hosts_verify=\(value) accepts host keys that were never verified",
                    help: "use known_hosts_verify=normal; or accept it with `allow-uri-risks: [unverified-peer]`",
                    risk: .unverifiedPeer)
            default:
                return Problem(
                    message: "known_hosts_verify must be normal, auto or ignore, found '\(value)'",
                    help: "write known_hosts_verify=normal", risk: nil)
            }
        default:
            return formProblem(name, value)
        }
    }

    /// What is wrong with the form of another parameter's value; every parameter libvirt does
    /// not document is refused.
    private static func formProblem(_ name: String, _ value: String) -> Problem? {
        switch name {
        case _ where pathParameters.contains(name):
            return isPlainPath(value, allowEmpty: false)
                ? nil
                : Problem(
                    message: "\(name) '\(value)' is not a plain absolute path",
                    help: "use an absolute path of letters, digits and '/._-'", risk: nil)
        case "no_tty":
            return ["0", "1"].contains(value)
                ? nil : Problem(message: "no_tty must be 0 or 1, found '\(value)'", help: "write no_tty=1", risk: nil)
        case "mode":
            return ["auto", "legacy", "direct"].contains(value)
                ? nil
                : Problem(
                    message: "mode must be auto, legacy or direct, found '\(value)'", help: "write mode=auto", risk: nil
                )
        case "proxy":
            return ["auto", "netcat", "native"].contains(value)
                ? nil
                : Problem(
                    message: "proxy must be auto, netcat or native, found '\(value)'", help: "write proxy=auto",
                    risk: nil)
        case "sshauth":
            let methods: Set<Substring> = ["agent", "privkey", "password", "keyboard-interactive"]
            return value.split(separator: ",").allSatisfy(methods.contains) && !value.isEmpty
                ? nil
                : Problem(
                    message: "sshauth '\(value)' is not a list of agent, privkey, password, keyboard-interactive",
                    help: "write e.g. sshauth=agent,privkey", risk: nil)
        case "tls_priority":
            return !value.isEmpty
                && value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ":+-!%._=".contains($0)) })
                ? nil
                : Problem(
                    message: "tls_priority '\(value)' is not a GnuTLS priority string",
                    help: "write e.g. tls_priority=NORMAL", risk: nil)
        default:
            return Problem(
                message: "unknown URI parameter '\(name)'",
                help:
                    "evac allows libvirt's documented parameters: socket, name, mode, proxy, keyfile, known_hosts, known_hosts_verify, pkipath, no_verify, no_tty, sshauth, tls_priority, authfile (command, netcat with allow-uri-risks)",
                risk: nil)
        }
    }

    /// Letters, digits and "._-", not starting with "-" (an ssh option otherwise).
    static func isName(_ s: String) -> Bool {
        guard let f = s.first, f != "-" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// An absolute path of letters, digits and "/._-" (empty allowed where asked).
    static func isPlainPath(_ s: String, allowEmpty: Bool) -> Bool {
        if s.isEmpty { return allowEmpty }
        return s.hasPrefix("/") && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-".contains($0)) }
    }

    static func hex(_ v: UInt32) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - h.count)) + h
    }
}
