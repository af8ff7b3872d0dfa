import Foundation

/// A JSON reader written for the inventory snapshot's schema (schemas/inventory.schema.json).
///
/// Why not `JSONDecoder`: on a 100,000-guest snapshot it took 2.5 s of CPU, more than all of
/// placement and planning after it (BENCHMARKS.md, "The real command"); this reader builds the
/// same values straight from the bytes, without an intermediate tree or a `Decoder` call per
/// field. It accepts what `JSONDecoder` accepts for this schema and gives the same values
/// (`SnapshotDecoderTests`, and the `snapshot` fuzz target compares the two on every input both
/// accept); it also says where in the file a problem is. Unknown keys are skipped, missing
/// optional keys and `null` give nil, a missing required key is an error, a repeated key keeps
/// its first value, and an integer may be written `8.0` or `8e0`, all as `JSONDecoder` does. The checks on what the values mean (`Inventory.problems`) run afterwards, as
/// before. Nesting is bounded (`maxDepth`), so no input recurses deeply; all arithmetic on
/// input is checked.
enum SnapshotDecoder {
    /// Deepest nesting of skipped (unknown) values.
    static let maxDepth = 256

    struct Failure: Error {
        var message: String
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Inventory {
        var r = SnapshotReader(bytes.bindMemory(to: UInt8.self))
        do {
            let inv = try r.inventory()
            r.skipSpace()
            guard r.atEnd else { throw r.failure("unexpected text after the snapshot") }
            return inv
        } catch let e as SnapshotReader.ReadError {
            throw Failure(message: e.message)
        } catch {
            throw Failure(message: "\(error)")
        }
    }
}

/// The reader's position in the bytes, and where it is in the document (for messages).
struct SnapshotReader {
    struct ReadError: Error { var message: String }

    private let p: UnsafeBufferPointer<UInt8>
    private var i = 0
    /// Keys and indexes from the top to the current value, only read when a problem is reported.
    private var path: [PathStep] = []
    /// Keys are the schema's static names: a step costs no reference count.
    private enum PathStep { case key(StaticString), index(Int) }

    init(_ p: UnsafeBufferPointer<UInt8>) {
        self.p = p
        path.reserveCapacity(8)
    }

    var atEnd: Bool { i >= p.count }

    /// The byte at the position, or 0 at the end (0 is never valid JSON outside a string).
    private var peek: UInt8 { i < p.count ? p[i] : 0 }

    mutating func skipSpace() {
        while i < p.count {
            switch p[i] {
            case 0x20, 0x0A, 0x0D, 0x09: i += 1
            default: return
            }
        }
    }

    func failure(_ what: String) -> ReadError {
        var line = 1
        var column = 1
        var k = 0
        let end = min(i, p.count)
        while k < end {
            if p[k] == 0x0A {
                line += 1
                column = 1
            } else if p[k] & 0xC0 != 0x80 {
                column += 1
            }
            k += 1
        }
        let location =
            path.isEmpty
            ? ""
            : " at /"
                + path.map {
                    switch $0 {
                    case .key(let k): k.description
                    case .index(let n): String(n)
                    }
                }.joined(separator: "/")
        return ReadError(message: "\(what)\(location) (line \(line), column \(column))")
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(ReadError) {
        skipSpace()
        guard peek == byte else { throw failure("expected \(what)") }
        i += 1
    }

    // MARK: objects and arrays

    /// Reads an object, calling `field` with the index of each key in `keys` (or nil for a key
    /// not in the schema, whose value is then skipped). `field` must read the value.
    /// Returns the keys seen, as a bit set; a repeated key's value is skipped.
    @discardableResult
    private mutating func object(
        _ keys: KeyTable, _ field: (inout SnapshotReader, Int) throws(ReadError) -> Void
    ) throws(ReadError) -> UInt32 {
        try expect(0x7B, "an object ('{')")
        var seen: UInt32 = 0
        skipSpace()
        if peek == 0x7D {
            i += 1
            return seen
        }
        while true {
            skipSpace()
            guard peek == 0x22 else { throw failure("expected a key in double quotes") }
            let k = try key(keys)
            try expect(0x3A, "':' after a key")
            if let k, seen & (1 << k) == 0 {
                seen |= 1 << k
                path.append(.key(keys.names[k]))
                try field(&self, k)
                path.removeLast()
            } else {
                try skipValue(depth: 0)
            }
            skipSpace()
            switch peek {
            case 0x2C: i += 1
            case 0x7D:
                i += 1
                return seen
            default: throw failure("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func array<T>(_ element: (inout SnapshotReader) throws(ReadError) -> T) throws(ReadError) -> [T] {
        try expect(0x5B, "an array ('[')")
        var out: [T] = []
        skipSpace()
        if peek == 0x5D {
            i += 1
            return out
        }
        while true {
            path.append(.index(out.count))
            out.append(try element(&self))
            path.removeLast()
            skipSpace()
            switch peek {
            case 0x2C: i += 1
            case 0x5D:
                i += 1
                return out
            default: throw failure("expected ',' or ']' in an array")
            }
        }
    }

    /// The index of the key at the position in `keys`, or nil; leaves the position after it.
    private mutating func key(_ keys: KeyTable) throws(ReadError) -> Int? {
        let start = i + 1
        var k = start
        while k < p.count, p[k] != 0x22, p[k] != 0x5C { k += 1 }
        if k < p.count, p[k] == 0x22 {
            i = k + 1
            let bytes = UnsafeBufferPointer(rebasing: p[start..<k])
            if let found = keys.find(bytes) { return found }
            guard String(validating: bytes, as: UTF8.self) != nil else { throw failure("a key is not valid UTF-8") }
            return nil
        }
        // A key with escapes: decode it, then compare.
        let s = try string()
        return keys.index(of: s)
    }

    /// Skips any JSON value, nesting at most `SnapshotDecoder.maxDepth` deep.
    private mutating func skipValue(depth: Int) throws(ReadError) {
        guard depth < SnapshotDecoder.maxDepth else { throw failure("nesting deeper than \(SnapshotDecoder.maxDepth)") }
        skipSpace()
        switch peek {
        case 0x22: _ = try string()
        case 0x7B:
            i += 1
            skipSpace()
            if peek == 0x7D {
                i += 1
                return
            }
            while true {
                skipSpace()
                guard peek == 0x22 else { throw failure("expected a key in double quotes") }
                _ = try string()
                try expect(0x3A, "':' after a key")
                try skipValue(depth: depth + 1)
                skipSpace()
                switch peek {
                case 0x2C: i += 1
                case 0x7D:
                    i += 1
                    return
                default: throw failure("expected ',' or '}' in an object")
                }
            }
        case 0x5B:
            i += 1
            skipSpace()
            if peek == 0x5D {
                i += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                skipSpace()
                switch peek {
                case 0x2C: i += 1
                case 0x5D:
                    i += 1
                    return
                default: throw failure("expected ',' or ']' in an array")
                }
            }
        case 0x74, 0x66: _ = try bool()
        case 0x6E: try literal("null")
        default: try number()
        }
    }

    // MARK: scalars

    private mutating func literal(_ word: StaticString) throws(ReadError) {
        let n = word.utf8CodeUnitCount
        guard p.count - i >= n else { throw failure("expected \(word)") }
        for k in 0..<n where p[i + k] != word.utf8Start[k] { throw failure("expected \(word)") }
        i += n
    }

    /// A value that is `null` (consumed, true) or something else (not consumed, false).
    private mutating func null() throws(ReadError) -> Bool {
        skipSpace()
        guard peek == 0x6E else { return false }
        try literal("null")
        return true
    }

    mutating func bool() throws(ReadError) -> Bool {
        skipSpace()
        switch peek {
        case 0x74:
            try literal("true")
            return true
        case 0x66:
            try literal("false")
            return false
        default: throw failure("expected true or false")
        }
    }

    /// Validates a JSON number and leaves the position after it; returns its integer value
    /// when it is written as an integer (no fraction, no exponent), with overflow reported.
    @discardableResult
    private mutating func number() throws(ReadError) -> (negative: Bool, magnitude: UInt64?, integral: Bool) {
        skipSpace()
        let negative = peek == 0x2D
        if negative { i += 1 }
        guard i < p.count, p[i] &- 0x30 < 10 else { throw failure("expected a value") }
        var magnitude: UInt64? = 0
        if p[i] == 0x30 {
            i += 1
        } else {
            while i < p.count, case let d = p[i] &- 0x30, d < 10 {
                if let m = magnitude {
                    let (a, o1) = m.multipliedReportingOverflow(by: 10)
                    let (b, o2) = a.addingReportingOverflow(UInt64(d))
                    magnitude = o1 || o2 ? nil : b
                }
                i += 1
            }
        }
        var integral = true
        if peek == 0x2E {
            i += 1
            integral = false
            guard i < p.count, p[i] &- 0x30 < 10 else { throw failure("expected digits after '.'") }
            while i < p.count, p[i] &- 0x30 < 10 { i += 1 }
        }
        if peek == 0x65 || peek == 0x45 {
            i += 1
            integral = false
            if peek == 0x2B || peek == 0x2D { i += 1 }
            guard i < p.count, p[i] &- 0x30 < 10 else { throw failure("expected digits in an exponent") }
            while i < p.count, p[i] &- 0x30 < 10 { i += 1 }
        }
        return (negative, magnitude, integral)
    }

    mutating func uint64() throws(ReadError) -> UInt64 {
        skipSpace()
        let start = i
        let n = try number()
        if !n.integral {
            let d = try wholeDouble(from: start)
            guard d >= 0, d < 18_446_744_073_709_551_616.0 else {
                i = start
                throw failure("number out of range")
            }
            return UInt64(d)
        }
        guard let m = n.magnitude else {
            i = start
            throw failure("number out of range")
        }
        if n.negative && m != 0 {
            i = start
            throw failure("expected a number that is not negative")
        }
        return m
    }

    /// A number written with a fraction or an exponent, which `JSONDecoder` takes for an
    /// integer field when its value is whole.
    private mutating func wholeDouble(from start: Int) throws(ReadError) -> Double {
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
        guard let d = Double(text), d.isFinite, d.rounded(.towardZero) == d else {
            i = start
            throw failure("expected a whole number")
        }
        return d
    }

    mutating func int() throws(ReadError) -> Int {
        skipSpace()
        let start = i
        let n = try number()
        if !n.integral {
            let d = try wholeDouble(from: start)
            guard d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 else {
                i = start
                throw failure("number out of range")
            }
            return Int(d)
        }
        guard let m = n.magnitude else {
            i = start
            throw failure("number out of range")
        }
        if n.negative {
            guard m <= UInt64(Int.max) + 1 else {
                i = start
                throw failure("number out of range")
            }
            return m == UInt64(Int.max) + 1 ? Int.min : -Int(m)
        }
        guard m <= UInt64(Int.max) else {
            i = start
            throw failure("number out of range")
        }
        return Int(m)
    }

    mutating func string() throws(ReadError) -> String {
        skipSpace()
        guard peek == 0x22 else { throw failure("expected a string") }
        let start = i + 1
        var k = start
        // Fast path: no escapes, no control characters; ASCII needs no UTF-8 validation.
        var high: UInt8 = 0
        while k < p.count {
            let c = p[k]
            if c == 0x22 || c == 0x5C || c < 0x20 { break }
            high |= c
            k += 1
        }
        if k < p.count, p[k] == 0x22 {
            if high < 0x80 {
                i = k + 1
                return String(decoding: UnsafeBufferPointer(rebasing: p[start..<k]), as: UTF8.self)
            }
            guard let s = String(validating: UnsafeBufferPointer(rebasing: p[start..<k]), as: UTF8.self) else {
                i = start
                throw failure("a string is not valid UTF-8")
            }
            i = k + 1
            return s
        }
        var bytes = Array(UnsafeBufferPointer(rebasing: p[start..<k]))
        i = k
        while true {
            guard i < p.count else { throw failure("a string is not closed") }
            let c = p[i]
            if c == 0x22 {
                i += 1
                break
            }
            if c < 0x20 { throw failure("a control character in a string (escape it)") }
            if c != 0x5C {
                bytes.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < p.count else { throw failure("a string is not closed") }
            let e = p[i]
            i += 1
            switch e {
            case 0x22, 0x5C, 0x2F: bytes.append(e)
            case 0x62: bytes.append(0x08)
            case 0x66: bytes.append(0x0C)
            case 0x6E: bytes.append(0x0A)
            case 0x72: bytes.append(0x0D)
            case 0x74: bytes.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard p.count - i >= 6, p[i] == 0x5C, p[i + 1] == 0x75 else {
                        throw failure("a lone surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw failure("a lone surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw failure("an invalid \\u escape") }
                bytes.append(contentsOf: UTF8.encode(u)!)
            default: throw failure("an invalid escape in a string")
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw failure("a string is not valid UTF-8") }
        return s
    }

    private mutating func hex4() throws(ReadError) -> UInt32 {
        guard p.count - i >= 4 else { throw failure("a short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw failure("a bad \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    mutating func optionalString() throws(ReadError) -> String? { try null() ? nil : try string() }

    mutating func optionalStrings() throws(ReadError) -> [String]? { try null() ? nil : try strings() }

    mutating func strings() throws(ReadError) -> [String] {
        try array { (r: inout SnapshotReader) throws(ReadError) in try r.string() }
    }

    mutating func enumeration<E: RawRepresentable>(_: E.Type) throws(ReadError) -> E where E.RawValue == String {
        let start = i
        let s = try string()
        guard let v = E(rawValue: s) else {
            i = start
            throw failure("unknown value '\(s)'")
        }
        return v
    }

    // MARK: the schema

    /// Required keys not seen, as a bit set over a key table.
    private func require(_ seen: UInt32, _ keys: KeyTable, required: UInt32) throws(ReadError) {
        let missing = required & ~seen
        guard missing != 0 else { return }
        throw failure("missing '\(keys.names[missing.trailingZeroBitCount])'")
    }

    mutating func inventory() throws(ReadError) -> Inventory {
        var inv = Inventory(hosts: [])
        let seen = try object(Keys.inventory) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: inv.formatVersion = try r.int()
            case 1: inv.hosts = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.host() }
            default:
                inv.unreachable = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.unreachable() }
            }
        }
        try require(seen, Keys.inventory, required: 0b111)
        return inv
    }

    mutating func unreachable() throws(ReadError) -> UnreachableHost {
        var u = UnreachableHost(name: "", uri: "", error: "")
        let seen = try object(Keys.unreachable) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: u.name = try r.string()
            case 1: u.uri = try r.string()
            default: u.error = try r.string()
            }
        }
        try require(seen, Keys.unreachable, required: 0b111)
        return u
    }

    mutating func host() throws(ReadError) -> HostInventory {
        var h = HostInventory(
            name: "", uri: "", memoryKiB: 0, cpus: 0, cpu: HostCPU(vendor: "", model: "", features: []))
        let seen = try object(Keys.host) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: h.name = try r.string()
            case 1: h.uri = try r.string()
            case 2: h.hostUUID = try r.optionalString()
            case 3: h.hostname = try r.optionalString()
            case 4: h.arch = try r.string()
            case 5: h.memoryKiB = try r.uint64()
            case 6: h.freeMemoryKiB = try r.uint64()
            case 7: h.cpus = try r.int()
            case 8: h.cpu = try r.hostCPU()
            case 9: h.bridges = try r.strings()
            case 10: h.networks = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.network() }
            case 11: h.storagePools = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.storagePool() }
            case 12: h.guests = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.guest() }
            case 13: h.libvirtVersion = try r.optionalString()
            case 14: h.hypervisorVersion = try r.optionalString()
            case 15: h.nwfilters = try r.optionalStrings()
            case 16: h.machineTypes = try r.optionalStrings()
            case 17: h.cpuModels = try r.optionalStrings()
            case 18: h.hostModelCPU = try r.null() ? nil : try r.bool()
            default:
                h.virtTypes =
                    try r.null()
                    ? nil : try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.virtTypeOffer() }
            }
        }
        // hostUUID and hostname (2, 3) are optional.
        try require(seen, Keys.host, required: 0b1_1111_1111_0011)
        return h
    }

    mutating func virtTypeOffer() throws(ReadError) -> VirtTypeOffer {
        var o = VirtTypeOffer(type: "")
        let seen = try object(Keys.virtTypeOffer) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: o.type = try r.string()
            case 1: o.machineTypes = try r.optionalStrings()
            case 2: o.cpuModels = try r.optionalStrings()
            default: o.hostModelCPU = try r.null() ? nil : try r.bool()
            }
        }
        try require(seen, Keys.virtTypeOffer, required: 0b1)
        return o
    }

    mutating func hostCPU() throws(ReadError) -> HostCPU {
        var c = HostCPU(vendor: "", model: "", features: [])
        let seen = try object(Keys.hostCPU) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: c.vendor = try r.string()
            case 1: c.model = try r.string()
            default: c.features = try r.strings()
            }
        }
        try require(seen, Keys.hostCPU, required: 0b111)
        return c
    }

    mutating func network() throws(ReadError) -> NetworkInfo {
        var n = NetworkInfo(name: "", bridge: nil, active: false)
        let seen = try object(Keys.network) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: n.name = try r.string()
            case 1: n.bridge = try r.optionalString()
            default: n.active = try r.bool()
            }
        }
        try require(seen, Keys.network, required: 0b101)
        return n
    }

    mutating func storagePool() throws(ReadError) -> StoragePoolInfo {
        var s = StoragePoolInfo(name: "", type: "", targetPath: nil, shared: false)
        let seen = try object(Keys.storagePool) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: s.name = try r.string()
            case 1: s.type = try r.string()
            case 2: s.targetPath = try r.optionalString()
            case 3: s.shared = try r.bool()
            case 4: s.active = try r.null() ? nil : try r.bool()
            case 5: s.availableBytes = try r.null() ? nil : try r.uint64()
            default: s.volumeFormats = try r.optionalStrings()
            }
        }
        try require(seen, Keys.storagePool, required: 0b1011)
        return s
    }

    mutating func guest() throws(ReadError) -> Guest {
        var g = Guest(uuid: "", name: "", state: .unknown, memoryKiB: 0, vcpus: 0, cpu: GuestCPU(mode: .none))
        let seen = try object(Keys.guest) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: g.uuid = try r.string()
            case 1: g.name = try r.string()
            case 2: g.state = try r.enumeration(Guest.State.self)
            case 3: g.persistent = try r.bool()
            case 4: g.memoryKiB = try r.uint64()
            case 5: g.currentMemoryKiB = try r.uint64()
            case 6: g.vcpus = try r.int()
            case 7: g.cpu = try r.guestCPU()
            case 8: g.nics = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.nic() }
            case 9: g.disks = try r.array { (r: inout SnapshotReader) throws(ReadError) in try r.disk() }
            case 10: g.hostDevices = try r.strings()
            case 11: g.filesystems = try r.optionalStrings()
            case 12: g.machine = try r.optionalString()
            case 13: g.dirtyRateBytesPerSec = try r.null() ? nil : try r.uint64()
            case 14: g.snapshots = try r.null() ? nil : try r.int()
            case 15: g.residentMemoryKiB = try r.null() ? nil : try r.uint64()
            default: g.virtType = try r.optionalString()
            }
        }
        try require(seen, Keys.guest, required: 0b111_1111_1111)
        return g
    }

    mutating func guestCPU() throws(ReadError) -> GuestCPU {
        var c = GuestCPU(mode: .none)
        let seen = try object(Keys.guestCPU) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: c.mode = try r.enumeration(GuestCPU.Mode.self)
            case 1: c.model = try r.optionalString()
            case 2: c.features = try r.strings()
            default: c.check = try r.optionalString()
            }
        }
        try require(seen, Keys.guestCPU, required: 0b101)
        return c
    }

    mutating func nic() throws(ReadError) -> GuestNIC {
        var n = GuestNIC(kind: .other, source: "")
        let seen = try object(Keys.nic) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: n.kind = try r.enumeration(GuestNIC.Kind.self)
            case 1: n.source = try r.string()
            case 2: n.mac = try r.optionalString()
            default: n.filter = try r.optionalString()
            }
        }
        try require(seen, Keys.nic, required: 0b011)
        return n
    }

    mutating func disk() throws(ReadError) -> GuestDisk {
        var d = GuestDisk(kind: .other, target: "", source: "", shared: false)
        let seen = try object(Keys.disk) { (r: inout SnapshotReader, k: Int) throws(ReadError) in
            switch k {
            case 0: d.kind = try r.enumeration(GuestDisk.Kind.self)
            case 1: d.device = try r.string()
            case 2: d.target = try r.string()
            case 3: d.source = try r.string()
            case 4: d.shared = try r.bool()
            case 5: d.readonly = try r.bool()
            case 6: d.format = try r.optionalString()
            case 7: d.capacityBytes = try r.null() ? nil : try r.uint64()
            case 8: d.allocationBytes = try r.null() ? nil : try r.uint64()
            default: d.backingChain = try r.optionalStrings()
            }
        }
        try require(seen, Keys.disk, required: 0b11_1111)
        return d
    }

    /// The keys of each object, in the order the cases above number them (the property names,
    /// as `Codable` spells them).
    enum Keys {
        static let inventory = KeyTable(["formatVersion", "hosts", "unreachable"])
        static let unreachable = KeyTable(["name", "uri", "error"])
        static let host = KeyTable([
            "name", "uri", "hostUUID", "hostname", "arch", "memoryKiB", "freeMemoryKiB", "cpus", "cpu", "bridges",
            "networks", "storagePools", "guests", "libvirtVersion", "hypervisorVersion", "nwfilters", "machineTypes",
            "cpuModels", "hostModelCPU", "virtTypes",
        ])
        static let virtTypeOffer = KeyTable(["type", "machineTypes", "cpuModels", "hostModelCPU"])
        static let hostCPU = KeyTable(["vendor", "model", "features"])
        static let network = KeyTable(["name", "bridge", "active"])
        static let storagePool = KeyTable([
            "name", "type", "targetPath", "shared", "active", "availableBytes", "volumeFormats",
        ])
        static let guest = KeyTable([
            "uuid", "name", "state", "persistent", "memoryKiB", "currentMemoryKiB", "vcpus", "cpu", "nics", "disks",
            "hostDevices", "filesystems", "machine", "dirtyRateBytesPerSec", "snapshots", "residentMemoryKiB",
            "virtType",
        ])
        static let guestCPU = KeyTable(["mode", "model", "features", "check"])
        static let nic = KeyTable(["kind", "source", "mac", "filter"])
        static let disk = KeyTable([
            "kind", "device", "target", "source", "shared", "readonly", "format", "capacityBytes", "allocationBytes",
            "backingChain",
        ])
    }
}

/// The keys of one object of the schema, found by their bytes without making a String. Static
/// strings: the reader's path to the current value names them without retaining anything.
struct KeyTable: Sendable {
    let names: [StaticString]

    init(_ names: [StaticString]) { self.names = names }

    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        for (n, name) in names.enumerated() where name.utf8CodeUnitCount == key.count {
            if memcmp(name.utf8Start, key.baseAddress!, key.count) == 0 { return n }
        }
        return nil
    }

    /// The index of a key that had to be decoded (it had escapes).
    func index(of key: String) -> Int? { names.firstIndex { $0.description == key } }
}
