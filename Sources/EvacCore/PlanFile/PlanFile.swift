import Foundation

/// The version evac reports and writes into plan files (`evacVersion`).
public enum EvacVersion { public static let current = "0.1.0" }

/// The saved, hashable result of `evac plan`: what `evac apply` consumes.
/// Same plan and inventory give the same bytes (no timestamps, sorted keys).
public struct PlanFile: Codable, Hashable, Sendable {
    /// What `format` says in every plan file.
    public static let formatName = "evac-planfile"
    /// The format version this evac writes and the only one it reads. 2: the constraints the
    /// executor re-checks, the migration options and on-failure moved into `policy`.
    public static let currentFormatVersion = 2
    /// `format`: always `formatName`; a file with another value is refused as not a plan file.
    public var format: String = Self.formatName
    /// See `currentFormatVersion`: a file of another version is refused, not guessed at.
    public var formatVersion: Int = Self.currentFormatVersion
    /// The evac that wrote the file, for the refusal of a file of another format version.
    public var evacVersion: String = EvacVersion.current
    /// The plan's `name:`.
    public var planName: String
    /// SHA-256 of the canonical encoding of `identity`: what decides the migrations.
    public var planHash: String
    /// Where the plan came from: the YAML file's name and the SHA-256 of its text.
    public var planSource: PlanSource
    /// SHA-256 of the stable part of the inventory the placement was computed from.
    public var inventoryFingerprint: String
    /// Every host the plan names, sorted by name: how the executor reaches it.
    public var hosts: [HostRef]
    /// The hosts being drained, in the plan's order.
    public var sources: [String]
    /// The hosts the target pools name.
    public var targets: [String]
    /// What the run re-checks before each migration, how it migrates, what it does on failure.
    public var policy: PlanPolicy
    /// The migrations and the limits the executor walks them under.
    public var graph: MigrationGraph
    /// Guests no target could take, with every candidate's reason.
    public var unplaceable: [Unplaceable]
    /// Guests the plan's selection leaves on the sources.
    public var skipped: [SkippedGuest]
    /// Every target's usage before and after, sorted by host name.
    public var targetUsage: [TargetUsage]
    /// Placement's notes (how the result was found).
    public var notes: [String]
    /// The estimate's makespan, ms. Informational: not covered by the plan hash.
    public var estimatedDurationMs: Double
    /// The plan's `connection:` deadlines; nil = the defaults.
    public var connection: ConnectionSettings?
    /// The plan's maintenance window; nil = none.
    public var window: MaintenanceWindow?
    /// The plan's hooks; nil when it has none.
    public var hooks: HookSet?
    /// The plan's rolling cycle (the cycle journal's plan only); nil otherwise.
    public var rolling: RollingSpec?

    enum CodingKeys: String, CodingKey {
        case format, formatVersion, evacVersion, planName, planHash, planSource, inventoryFingerprint, hosts, sources
        case targets, policy, graph, unplaceable, skipped, targetUsage, notes, estimatedDurationMs, connection, window
        case hooks, rolling
    }

    /// The file's members. Through `CanonicalJSONEncoder` they are written in key order straight
    /// into the output: through a keyed container the whole encoding (48 MB at 100,000 guests)
    /// was copied once more to put the members in order.
    public func encode(to encoder: any Encoder) throws {
        let direct = try CanonicalJSONWriter.writeDirectly(to: encoder) { w, depth in
            var o = CanonicalObjectWriter(w, depth: depth)
            try visitMembers { key, value in try o.member(key.stringValue, value) }
            o.close()
        }
        guard !direct else { return }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try visitMembers { key, value in try c.encode(value, forKey: key) }
    }

    /// Every member the file has (optional ones when set), in key order by UTF-8 bytes: the
    /// order the canonical encoding writes them in. One list for both ways of encoding; a test
    /// checks it names every stored property.
    func visitMembers(_ visit: (CodingKeys, any Encodable) throws -> Void) rethrows {
        if let connection { try visit(.connection, connection) }
        try visit(.estimatedDurationMs, estimatedDurationMs)
        try visit(.evacVersion, evacVersion)
        try visit(.format, format)
        try visit(.formatVersion, formatVersion)
        try visit(.graph, graph)
        if let hooks { try visit(.hooks, hooks) }
        try visit(.hosts, hosts)
        try visit(.inventoryFingerprint, inventoryFingerprint)
        try visit(.notes, notes)
        try visit(.planHash, planHash)
        try visit(.planName, planName)
        try visit(.planSource, planSource)
        try visit(.policy, policy)
        if let rolling { try visit(.rolling, rolling) }
        try visit(.skipped, skipped)
        try visit(.sources, sources)
        try visit(.targetUsage, targetUsage)
        try visit(.targets, targets)
        try visit(.unplaceable, unplaceable)
        if let window { try visit(.window, window) }
    }

    /// The plan's YAML file as it was read.
    public struct PlanSource: Codable, Hashable, Sendable {
        /// The file's path as given to `evac plan`.
        public var path: String
        /// SHA-256 of its text.
        public var sha256: String
        /// The plan file at `path` whose text hashed to `sha256`.
        public init(path: String, sha256: String) {
            self.path = path
            self.sha256 = sha256
        }
    }
    /// A host as the plan names it, with what the run needs to reach it.
    public struct HostRef: Codable, Hashable, Sendable {
        /// The host's name in the plan.
        public var name: String
        /// The libvirt connection URI.
        public var uri: String
        /// The plan's `cpu-pool` (hosts with a common CPU feature mask, for `constraints.cpu: pool`).
        public var cpuPool: String?
        /// The URI risks the plan accepted for this host (`allow-uri-risks`); nil when none.
        public var allowURIRisks: [URIPolicy.Risk]?
        /// The plan's `migrate-uri` for this host; nil when none.
        public var migrateURI: String?
        /// A host reference; the optional members nil when the plan does not set them.
        public init(
            name: String, uri: String, cpuPool: String? = nil, allowURIRisks: [URIPolicy.Risk]? = nil,
            migrateURI: String? = nil
        ) {
            self.name = name
            self.uri = uri
            self.cpuPool = cpuPool
            self.allowURIRisks = allowURIRisks
            self.migrateURI = migrateURI
        }
    }

    /// The plan file of `spec` placed on `inventory`: its hosts, policy, the graph with each node's
    /// predicted start and duration from `timeline`; sealed with its hash unless `hashed` is false.
    public init(
        spec: PlanSpec, planSource: PlanSource, inventory: Inventory, result: PlacementResult,
        graph: MigrationGraph, timeline: Timeline, hashed: Bool = true
    ) {
        planName = spec.name
        planHash = ""
        self.planSource = planSource
        inventoryFingerprint = inventory.fingerprint
        hosts = spec.hosts.map {
            HostRef(
                name: $0.name, uri: $0.uri, cpuPool: $0.cpuPool,
                allowURIRisks: $0.allowURIRisks.isEmpty ? nil : $0.allowURIRisks.sorted { $0.rawValue < $1.rawValue },
                migrateURI: $0.migrateURI)
        }.sorted { $0.name < $1.name }
        sources = spec.sourceNames
        targets = spec.targetNames
        policy = PlanPolicy(spec: spec)
        self.graph = graph
        let predicted = Dictionary(timeline.entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        // Written only where they differ: `DrainEstimate`'s graph carries them already, and a
        // write would copy the caller's whole node array.
        for i in self.graph.nodes.indices {
            let e = predicted[self.graph.nodes[i].id]
            if self.graph.nodes[i].predictedStartMs != e?.startMs {
                self.graph.nodes[i].predictedStartMs = e?.startMs
            }
            if self.graph.nodes[i].predictedDurationMs != e?.durationMs {
                self.graph.nodes[i].predictedDurationMs = e?.durationMs
            }
        }
        unplaceable = result.unplaceable
        skipped = result.skipped
        targetUsage = result.targets
        notes = result.notes
        estimatedDurationMs = timeline.totalMs
        connection = spec.connection
        window = spec.window
        hooks = spec.hooks.isEmpty ? nil : spec.hooks
        rolling = spec.rolling
        if hashed { planHash = computedHash }
    }

    /// The file with its hash and its bytes from a single encoding (encoding is the largest
    /// single cost of `evac plan` after placement): encode the whole file with `planHash`
    /// empty, hash those bytes as `identity` would encode — without the nodes' predicted times
    /// and with the informational members neutral, streamed into SHA-256 segment by segment —
    /// then put the hash into its place. Values are cut from encodings of `Informational`,
    /// whose members sit at the same depth, so the hashed bytes are exactly `identity`'s
    /// encoding and the written bytes exactly the whole file's (a test compares both with
    /// JSONEncoder's).
    public func sealed() -> (file: PlanFile, data: Data) {
        var copy = self
        copy.planHash = ""
        // The encoding stays in the array it was written into, seen as `Data` without a copy;
        // the file's bytes are copied once, into the result (each copy of 48 MB costs ~1 %).
        let bytes = (try? CanonicalJSONEncoder().encodeBytes(copy)) ?? []
        let neutralInfo = Self.canonicalBytes(Informational.neutral)
        return bytes.withUnsafeBufferPointer { buf -> (file: PlanFile, data: Data) in
            guard let base = buf.baseAddress else { return copy.sealedByTwoEncodings() }
            let full = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: buf.count, deallocator: .none)
            // Top-level members are indented by two spaces, nested ones by more, and no string
            // holds a raw newline, so `\n  "key" : ` finds the member itself. The first two sort
            // before the graph, the bulk of the file, and the last two after it: look from either end.
            var cuts: [(range: Range<Int>, neutral: Data)] = []
            for (key, fromEnd) in [("estimatedDurationMs", false), ("evacVersion", false), ("planSource", true)] {
                guard let at = Self.memberValue(key, in: full, fromEnd: fromEnd),
                    let value = Self.memberValue(key, in: neutralInfo, fromEnd: false)
                else { return copy.sealedByTwoEncodings() }
                cuts.append((at, neutralInfo.subdata(in: value)))
            }
            cuts += Self.predictedMembers(in: full).map { ($0, Data()) }
            cuts.sort { $0.range.lowerBound < $1.range.lowerBound }
            var sha = SHA256()
            var from = 0
            for (range, neutral) in cuts {
                sha.update(UnsafeBufferPointer(rebasing: buf[from..<range.lowerBound]))
                sha.update([UInt8](neutral))
                from = range.upperBound
            }
            sha.update(UnsafeBufferPointer(rebasing: buf[from...]))
            copy.planHash = sha.finalizeHex()
            guard let at = Self.memberValue("planHash", in: full, fromEnd: true) else {
                return copy.sealedByTwoEncodings()
            }
            var data = Data(capacity: buf.count + 80)
            data.append(UnsafeBufferPointer(rebasing: buf[..<at.lowerBound]))
            data.append(Data("\"\(copy.planHash)\"".utf8))
            data.append(UnsafeBufferPointer(rebasing: buf[at.upperBound...]))
            data.append(0x0a)
            return (copy, data)
        }
    }

    /// The plain way, for a file whose encoding the cuts do not find their way through.
    private func sealedByTwoEncodings() -> (file: PlanFile, data: Data) {
        var copy = self
        copy.planHash = computedHash
        return (copy, copy.encoded())
    }

    /// The byte ranges of every node's `predictedStartMs` and `predictedDurationMs` member in a
    /// canonical encoding, each from the newline before it through the comma after its value
    /// (they are numbers, and `source` always follows them): cut, they leave the encoding of
    /// the node without them.
    static func predictedMembers(in data: Data) -> [Range<Int>] {
        let head = BytePattern(Array("\n        \"predicted".utf8))
        var out: [Range<Int>] = []
        var from = data.startIndex
        while let h = head.first(in: data, from: from),
            let comma = firstRange(of: [UInt8(ascii: ",")], in: data, from: h.upperBound)
        {
            out.append(h.lowerBound..<comma.upperBound)
            from = comma.upperBound
        }
        return out
    }

    /// What `planHash` covers: the file with `planHash` empty and the members that can differ
    /// while every decision stays the same set to neutral values — the duration estimate and
    /// each node's predicted start and duration (they depend on the bandwidth a command assumes
    /// and on momentary dirty rates), the evac version that wrote the file, and
    /// where the plan came from (the YAML's file name and text: a comment is no decision).
    /// Everything else is covered: placements, the DAG and its limits, migration options and
    /// on-failure, the constraints the executor re-checks, what is unplaceable or skipped and
    /// why, the target usage from allocations, and the inventory's fingerprint (which leaves
    /// out momentary figures). So an unchanged plan on an unchanged fleet has one hash, and
    /// one journal.
    public var identity: PlanFile {
        var copy = self
        let neutral = Informational.neutral
        copy.planHash = neutral.planHash
        copy.estimatedDurationMs = neutral.estimatedDurationMs
        for i in copy.graph.nodes.indices {
            copy.graph.nodes[i].predictedStartMs = nil
            copy.graph.nodes[i].predictedDurationMs = nil
        }
        copy.evacVersion = neutral.evacVersion
        copy.planSource = neutral.planSource
        return copy
    }

    /// The members of a plan file that `planHash` does not cover, encoded on their own.
    private struct Informational: Encodable {
        var estimatedDurationMs: Double
        var evacVersion: String
        var planHash: String
        var planSource: PlanSource
        /// What `identity` sets them to; `sealed` encodes this alone rather than copying the
        /// whole graph through `identity` to get the same four values.
        static let neutral = Informational(
            estimatedDurationMs: 0, evacVersion: "", planHash: "", planSource: PlanSource(path: "", sha256: ""))
    }

    /// The byte range of a top-level member's value in a canonical (sorted, pretty) encoding:
    /// from after `"key" : ` to before the `,` that ends it.
    static func memberValue(_ key: String, in data: Data, fromEnd: Bool) -> Range<Int>? {
        let head = Array("\n  \"\(key)\" : ".utf8)
        guard let h = fromEnd ? lastRange(of: head, in: data) : firstRange(of: head, in: data) else { return nil }
        guard
            let end = firstRange(of: Array(",\n  \"".utf8), in: data, from: h.upperBound)
                ?? firstRange(of: Array("\n}".utf8), in: data, from: h.upperBound)
        else { return nil }
        return h.upperBound..<end.lowerBound
    }

    /// `Data.range(of:options: .backwards)` takes ~9 ns a byte; this plain loop a fraction of that.
    static func lastRange(of pattern: [UInt8], in data: Data) -> Range<Int>? {
        data.withUnsafeBytes { (d: UnsafeRawBufferPointer) -> Range<Int>? in
            guard let first = pattern.first, d.count >= pattern.count else { return nil }
            var i = d.count - pattern.count
            while i >= 0 {
                if d[i] == first && pattern.indices.allSatisfy({ d[i + $0] == pattern[$0] }) {
                    return data.startIndex + i..<data.startIndex + i + pattern.count
                }
                i -= 1
            }
            return nil
        }
    }

    static func firstRange(of pattern: [UInt8], in data: Data, from start: Int? = nil) -> Range<Int>? {
        BytePattern(pattern).first(in: data, from: start)
    }

    /// The canonical encoding of plan files and inventory snapshots. CanonicalJSONEncoder writes
    /// the same bytes as `canonicalEncoder()` at a fraction of the cost (JSONEncoder spends about
    /// a second on a 100k-guest plan). Encoding our own value types cannot fail.
    static func canonicalBytes<T: Encodable>(_ value: T) -> Data {
        (try? CanonicalJSONEncoder().encode(value)) ?? Data()
    }

    /// JSONEncoder with the options whose output `canonicalBytes` reproduces.
    public static func canonicalEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    /// The hash this file should carry (see `identity`).
    public var computedHash: String { SHA256.hex(Self.canonicalBytes(identity)) }

    /// The file's bytes as written: the canonical encoding and a final newline.
    public func encoded() -> Data {
        var d = Self.canonicalBytes(self)
        d.append(0x0a)
        return d
    }

    /// The libvirt URI of `host`; nil for a host the plan does not name.
    public func uri(of host: String) -> String? { hosts.first { $0.name == host }?.uri }
}

extension Inventory {
    /// SHA-256 over what placement depends on; momentary figures (free memory, balloon size)
    /// and the hostname (the test driver reports the client's own) are left out, so that a
    /// plan is not stale just because page cache moved. The hosts' memory is left out too: it
    /// grows under a hypervisor that hot-adds memory (virtio-mem: this lab's machine gained
    /// 2.2 GB in an hour), which makes no plan wrong; a target that shrank is caught by the
    /// stale check, which compares each target's memory with the plan's. Fields are streamed into the hash with
    /// separators rather than encoded as JSON first: this runs on every plan and apply.
    public var fingerprint: String {
        var f = FingerprintHasher()
        f.add("evac-inventory-2")
        for h in hosts {
            f.add("host")
            f.add(h.name)
            f.add(h.uri)
            f.add(h.hostUUID ?? "")
            f.add(h.arch)
            f.add(UInt64(bitPattern: Int64(h.cpus)))
            f.add(h.cpu.vendor)
            f.add(h.cpu.model)
            f.add(h.cpu.features)
            f.add(h.bridges)
            for n in h.networks {
                f.add(n.name)
                f.add(n.bridge ?? "")
                f.add(n.active ? 1 : 0)
            }
            for p in h.storagePools {
                f.add(p.name)
                f.add(p.type)
                f.add(p.targetPath ?? "")
                f.add(p.shared ? 1 : 0)
            }
            for g in h.guests {
                f.add("guest")
                f.add(g.uuid)
                f.add(g.name)
                f.add(g.state.rawValue)
                f.add(g.persistent ? 1 : 0)
                f.add(g.memoryKiB)
                f.add(UInt64(bitPattern: Int64(g.vcpus)))
                f.add(g.cpu.mode.rawValue)
                f.add(g.cpu.model ?? "")
                f.add(g.cpu.features)
                for n in g.nics {
                    f.add(n.kind.rawValue)
                    f.add(n.source)
                    f.add(n.mac ?? "")
                    if let filter = n.filter {
                        f.add("filter")
                        f.add(filter)
                    }
                }
                for d in g.disks {
                    f.add(d.kind.rawValue)
                    f.add(d.device)
                    f.add(d.target)
                    f.add(d.source)
                    f.add(d.shared ? 1 : 0)
                    f.add(d.readonly ? 1 : 0)
                }
                f.add(g.hostDevices)
                if let fs = g.filesystems {
                    f.add("filesystems")
                    f.add(fs)
                }
                if let m = g.machine {
                    f.add("machine")
                    f.add(m)
                }
                if let t = g.virtType {
                    f.add("virt-type")
                    f.add(t)
                }
            }
        }
        for u in unreachable {
            f.add("unreachable")
            f.add(u.name)
            f.add(u.uri)
        }
        return f.finish()
    }

    /// The snapshot's bytes as `evac inventory --output` writes them: canonical, with a final newline.
    public func encodedSnapshot() -> Data {
        var d = PlanFile.canonicalBytes(self)
        d.append(0x0a)
        return d
    }
}

/// Feeds values into SHA-256 with a length prefix each, so that ("ab","c") and ("a","bc") differ.
/// Bytes are gathered in a buffer and hashed in large chunks: per-field hashing calls cost more
/// than the hashing itself.
struct FingerprintHasher {
    private var sha = SHA256()
    private var pending: [UInt8] = []

    init() { pending.reserveCapacity(1 << 16) }

    mutating func add(_ s: String) {
        add(UInt64(s.utf8.count))
        pending.append(contentsOf: s.utf8)
        flushIfFull()
    }
    mutating func add(_ list: [String]) {
        add(UInt64(list.count))
        for s in list { add(s) }
    }
    mutating func add(_ n: UInt64) {
        for i in 0..<8 { pending.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
    }
    private mutating func flushIfFull() {
        if pending.count >= 1 << 16 {
            sha.update(pending)
            pending.removeAll(keepingCapacity: true)
        }
    }
    mutating func finish() -> String {
        sha.update(pending)
        return sha.finalizeHex()
    }
}

/// A byte string searched for with Boyer–Moore–Horspool. The sealer looks for every node's
/// `predicted…` members, whose pattern starts with a newline, through a 40 MB plan file: byte
/// by byte, the search stopped at every line; this one mostly skips the pattern's length.
struct BytePattern {
    let bytes: [UInt8]
    private let shift: [Int]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var shift = [Int](repeating: bytes.count, count: bytes.count > 1 ? 256 : 0)
        for k in 0..<max(0, bytes.count - 1) { shift[Int(bytes[k])] = bytes.count - 1 - k }
        self.shift = shift
    }

    /// The first occurrence at or after `start` (an index of `data`; nil = its start).
    func first(in data: Data, from start: Int? = nil) -> Range<Int>? {
        let m = bytes.count
        guard m > 0 else { return nil }
        return data.withUnsafeBytes { (d: UnsafeRawBufferPointer) -> Range<Int>? in
            var i = max(0, (start ?? data.startIndex) - data.startIndex)
            while i + m <= d.count {
                let last = d[i + m - 1]
                if last == bytes[m - 1] {
                    var k = 0
                    while k < m - 1 && d[i + k] == bytes[k] { k += 1 }
                    if k == m - 1 { return data.startIndex + i..<data.startIndex + i + m }
                }
                i += m == 1 ? 1 : shift[Int(last)]
            }
            return nil
        }
    }
}
