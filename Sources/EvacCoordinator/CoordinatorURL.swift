import EvacCore
import Foundation

/// Where the coordinator's database is: `postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=…]`
/// (`postgres://` too), from `EVAC_COORDINATOR` or `--coordinator`. A unix socket directory is
/// given libpq's way, as `?host=/run/postgresql`. The URL never holds the password: it comes
/// from `PGPASSWORD` or a password file (`PGPASSFILE`, else `~/.pgpass`), as for libpq.
public struct CoordinatorURL: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP (a unix socket is always plain).
        case disable
        /// TLS when the server offers it (libpq's default).
        case prefer
        /// TLS, and the server's certificate must verify against the system's trust store for
        /// HOST (libpq's verify-full; libpq's `require`, which verifies nothing, is not offered).
        case require = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// A directory holding the server's socket (`.s.PGSQL.PORT`), instead of TCP.
    public var socketDirectory: String?
    public var tls: TLSMode

    /// The URL as the operator gave it, which holds no password (parse refuses one).
    public var description: String {
        let socketQuery = socketDirectory.map { "?host=\($0)" } ?? ""
        return "postgresql://\(user)@\(socketDirectory == nil ? host : ""):\(port)/\(database)\(socketQuery)"
    }

    /// "evac@db.example:5432/evac" for messages.
    public var server: String { "\(user)@\(socketDirectory ?? host):\(port)/\(database)" }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String) -> Result<CoordinatorURL, ParseError> {
        func fail(_ why: String) -> Result<CoordinatorURL, ParseError> {
            .failure(ParseError(description: "coordinator URL \(LibvirtURI.redactText(text)): \(why)"))
        }
        let schemes = ["postgresql://", "postgres://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            return fail("expected postgresql://USER@HOST:PORT/DATABASE")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else { return fail("no database name (…/DATABASE)") }
        let authority = rest[..<slash]
        let database = String(rest[rest.index(after: slash)...])
        var userPart = ""
        var hostPart = Substring(authority)
        if let at = authority.lastIndex(of: "@") {
            userPart = String(authority[..<at])
            hostPart = authority[authority.index(after: at)...]
        }
        if userPart.contains(":") {
            return fail("it holds a password; give it in PGPASSWORD or a password file (~/.pgpass, PGPASSFILE) instead")
        }
        guard let user = userPart.removingPercentEncoding, !user.isEmpty else {
            return fail("no user name (postgresql://USER@HOST/…)")
        }
        guard let db = database.removingPercentEncoding, !db.isEmpty, !db.contains("/") else {
            return fail("no database name (…/DATABASE)")
        }
        var host = String(hostPart)
        var port = 5432
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return fail("unclosed [ in the host") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    return fail("the port must be a number from 1 to 65535")
                }
                port = p
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                return fail("the port must be a number from 1 to 65535")
            }
            port = p
        }
        var socket: String?
        var tls = TLSMode.prefer
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            guard kv.count == 2 else { return fail("query parameter '\(pair)' has no value") }
            switch kv[0] {
            case "sslmode":
                switch kv[1] {
                case "disable": tls = .disable
                case "prefer", "allow": tls = .prefer
                case "verify-full": tls = .require
                case "require", "verify-ca":
                    return fail("sslmode=\(kv[1]) does not check the server's name; use sslmode=verify-full")
                default: return fail("sslmode must be disable, prefer or verify-full")
                }
            case "host":
                guard kv[1].hasPrefix("/") else { return fail("host= takes a socket directory (an absolute path)") }
                socket = kv[1]
            case "password": return fail("it holds a password; give it in PGPASSWORD or a password file instead")
            default: return fail("unknown parameter '\(kv[0])' (known: sslmode, host)")
            }
        }
        if host.isEmpty && socket == nil { return fail("no host") }
        return .success(
            CoordinatorURL(
                user: user, host: host.isEmpty ? "localhost" : host, port: port, database: db,
                socketDirectory: socket, tls: socket == nil ? tls : .disable))
    }

    /// The socket file itself (`DIR/.s.PGSQL.PORT`), as libpq names it.
    var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }
}

/// The password of a coordinator URL, from the places libpq reads it, in libpq's order:
/// `PGPASSWORD`, then the password file (`PGPASSFILE`, else `~/.pgpass`), whose first line
/// matching `host:port:database:user` wins (`*` matches anything; `\:` and `\\` escape). Like
/// libpq, a password file that group or others can read is ignored, with a warning.
public enum PasswordSource {
    public struct Found: Sendable, Equatable {
        public var password: String?
        /// Why a password file was not used, for a warning; nil when none.
        public var warning: String?
    }

    public static func lookup(_ url: CoordinatorURL, environment: [String: String]) -> Found {
        if let p = environment["PGPASSWORD"], !p.isEmpty { return Found(password: p) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let path = environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.pgpass"
        var st = stat()
        guard lstat(path, &st) == 0 else { return Found(password: nil) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            return Found(password: nil, warning: "password file \(path) is not a regular file; not used")
        }
        guard st.st_mode & 0o077 == 0 else {
            return Found(
                password: nil,
                warning: "password file \(path) can be read by group or others; not used (chmod 0600 it)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return Found(password: nil) }
        let host = url.socketDirectory == nil ? url.host : "localhost"
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let f = fields(line)
            guard f.count == 5 else { continue }
            let wanted = [host, String(url.port), url.database, url.user]
            if zip(f.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return Found(password: f[4]) }
        }
        return Found(password: nil)
    }

    /// One password file line split at unescaped colons, escapes removed.
    static func fields(_ line: Substring) -> [String] {
        var out: [String] = []
        var cur = ""
        var escaped = false
        for c in line {
            if escaped {
                cur.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == ":" && out.count < 4 {
                out.append(cur)
                cur = ""
            } else {
                cur.append(c)
            }
        }
        out.append(cur)
        return out
    }
}
