/// A libvirt connection URI taken apart the way libvirt reads it
/// (`driver[+transport]://[user@][host][:port]/[path][?name=value&…]`), for two jobs every module
/// shares: finding credentials (so they are refused, and redacted wherever a URI is shown or
/// stored) and enforcing the URI policy (`LibvirtURI.Policy`).
///
/// Parsing is strict and by position, as RFC 3986 and libvirt's parser (libxml2's xmlParseURI)
/// read a URI: the authority runs from "//" to the first "/", "?" or "#"; user information is what
/// comes before its *last* "@". So `user@x:secret@host` has user information `user@x:secret`, whose
/// ":" marks a password — a split at the first "@" would miss it.
public struct LibvirtURI: Hashable, Sendable {
    /// "qemu+ssh", "test", …
    public var scheme: String
    /// The libvirt driver: the scheme before any "+" ("qemu", "test", …).
    public var driver: String
    /// "ssh", "tcp", "unix", …; nil when the scheme has no "+transport".
    public var transport: String?
    /// Whether "//" followed the scheme.
    public var hasAuthority: Bool
    /// The raw user information (before the last "@" of the authority), nil when absent.
    public var userInfo: String?
    /// The host name or bracketed IPv6 address; "" for a local URI such as qemu:///system.
    public var host: String
    /// The port as written (not yet checked to be a number); nil when absent.
    public var port: String?
    /// The path after the authority, e.g. "/system".
    public var path: String
    /// Query parameters, percent-decoded, in order (libvirt decodes them before use).
    public var parameters: [(name: String, value: String)]
    /// What follows "#", which libvirt does not use; nil when absent.
    public var fragment: String?

    /// Equal when every part is equal, parameters in order (tuples keep the type from synthesizing it).
    public static func == (a: Self, b: Self) -> Bool {
        a.scheme == b.scheme && a.hasAuthority == b.hasAuthority && a.userInfo == b.userInfo && a.host == b.host
            && a.port == b.port && a.path == b.path && a.fragment == b.fragment
            && a.parameters.map(\.name) == b.parameters.map(\.name)
            && a.parameters.map(\.value) == b.parameters.map(\.value)
    }
    /// Hashes scheme, host and path only: equal URIs agree on those, which is all hashing needs.
    public func hash(into h: inout Hasher) {
        h.combine(scheme)
        h.combine(host)
        h.combine(path)
    }

    /// The user name (user information up to its first ":").
    public var user: String? { userInfo.map { String($0.prefix { $0 != ":" }) } }
    /// Whether the URI carries a password: a ":" in the user information (also percent-encoded,
    /// which libvirt would decode).
    public var hasPassword: Bool {
        guard let u = userInfo else { return false }
        return u.contains(":") || u.lowercased().contains("%3a")
    }

    /// Why a string is not a URI this parser accepts.
    public struct ParseError: Error, Hashable, Sendable { public var reason: String }

    /// Takes `text` apart, or says why it is not a URI this parser accepts (nothing is guessed).
    public static func parse(_ text: String) -> Result<LibvirtURI, ParseError> {
        guard let colon = text.firstIndex(of: ":") else {
            return .failure(.init(reason: "it has no scheme (driver://…)"))
        }
        let scheme = String(text[..<colon])
        guard let first = scheme.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first),
            scheme.unicodeScalars.allSatisfy({ Self.isSchemeChar($0) })
        else {
            return .failure(.init(reason: "its scheme '\(TerminalText.escape(scheme))' is not letters, digits and '+'"))
        }
        let plus = scheme.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
        let driver = String(plus[0])
        let transport = plus.count > 1 ? String(plus[1]) : nil
        if driver.isEmpty || transport?.isEmpty == true || transport?.contains("+") == true {
            return .failure(.init(reason: "its scheme '\(scheme)' is not driver or driver+transport"))
        }
        var rest = Substring(text[text.index(after: colon)...])
        var fragment: String?
        if let hash = rest.firstIndex(of: "#") {
            fragment = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
        }
        var query: Substring?
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var uri = LibvirtURI(
            scheme: scheme, driver: driver, transport: transport, hasAuthority: false, userInfo: nil,
            host: "", port: nil, path: "", parameters: [], fragment: fragment)
        if rest.hasPrefix("//") {
            uri.hasAuthority = true
            rest = rest.dropFirst(2)
            let authEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            var authority = rest[..<authEnd]
            uri.path = String(rest[authEnd...])
            if let at = authority.lastIndex(of: "@") {
                uri.userInfo = String(authority[..<at])
                authority = authority[authority.index(after: at)...]
            }
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else {
                    return .failure(.init(reason: "its IPv6 host has no ']'"))
                }
                uri.host = String(authority[...close])
                let after = authority[authority.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { return .failure(.init(reason: "text follows its IPv6 host")) }
                    uri.port = String(after.dropFirst())
                }
            } else if let c = authority.lastIndex(of: ":") {
                uri.host = String(authority[..<c])
                uri.port = String(authority[authority.index(after: c)...])
            } else {
                uri.host = String(authority)
            }
        } else {
            uri.path = String(rest)
        }
        if let query {
            for part in query.split(separator: "&", omittingEmptySubsequences: true) {
                let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = percentDecoded(kv[0]), let value = percentDecoded(kv.count > 1 ? kv[1] : "") else {
                    return .failure(.init(reason: "its query has a malformed %-escape"))
                }
                uri.parameters.append((name, value))
            }
        }
        return .success(uri)
    }

    static func isSchemeChar(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "+" || c == "-"
            || c == "."
    }

    /// %XX decoding (and "+" kept as is, as libvirt does); nil on a malformed escape or bytes
    /// that are not UTF-8.
    static func percentDecoded(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b != UInt8(ascii: "%") {
                bytes.append(b)
                continue
            }
            guard it.count >= 2, let hi = hexValue(it[it.startIndex]), let lo = hexValue(it[it.startIndex + 1]) else {
                return nil
            }
            bytes.append(hi << 4 | lo)
            it = it.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

// MARK: - Redaction

extension LibvirtURI {
    /// `uri` with any password replaced by `***`. Text that does not parse is redacted by the
    /// same rule applied to every URI-looking run inside it (see `redactText`).
    public static func redact(_ uri: String) -> String { redactText(uri) }

    /// `text` (a libvirt message, an error) with the password of every URI inside it replaced by
    /// `***`: libvirt's own messages can quote a raw URI ("Unable to parse URI …").
    /// A URI is found at each "://": its user information runs to the last "@" before the next
    /// "/", whitespace or quote, and everything after its first ":" is hidden.
    public static func redactText(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var scalars = Array(text.unicodeScalars)
        var i = 0
        while i + 2 < scalars.count {
            guard scalars[i] == ":", scalars[i + 1] == "/", scalars[i + 2] == "/" else {
                i += 1
                continue
            }
            let start = i + 3
            var end = start
            while end < scalars.count, !Self.endsAuthority(scalars[end]) { end += 1 }
            if let at = scalars[start..<end].lastIndex(of: "@"),
                let colon = scalars[start..<at].firstIndex(of: ":")
            {
                let hidden: [Unicode.Scalar] = Array("***".unicodeScalars)
                scalars.replaceSubrange((colon + 1)..<at, with: hidden)
                end = colon + 1 + hidden.count + (end - at)
            } else if let at = scalars[start..<end].lastIndex(of: "@"),
                scalars[start..<at].contains(where: { $0 == "%" })
            {
                // An escaped ":" (%3A) is a password libvirt would decode: hide the whole user part.
                let hidden: [Unicode.Scalar] = Array("***".unicodeScalars)
                scalars.replaceSubrange(start..<at, with: hidden)
                end = start + hidden.count + (end - at)
            }
            i = max(end, i + 3)
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    static func endsAuthority(_ c: Unicode.Scalar) -> Bool {
        c == "/" || c == "?" || c == "#" || c == "'" || c == "\"" || c == "`" || c == "<" || c == ">"
            || c.properties.isWhitespace || c.value < 0x20
    }
}
