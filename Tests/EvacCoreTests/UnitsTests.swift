import XCTest

@testable import EvacCore

final class UnitsTests: XCTestCase {
    func testSizes() throws {
        XCTAssertEqual(try Units.size("4GiB").get(), 4 << 30)
        XCTAssertEqual(try Units.size("512 MiB").get(), 512 << 20)
        XCTAssertEqual(try Units.size("1.5GiB").get(), 3 << 29)
        XCTAssertEqual(try Units.size("2GB").get(), 2_000_000_000)
        XCTAssertEqual(try Units.size("10B").get(), 10)
    }

    func testAmbiguousAndBadSizes() {
        XCTAssertEqual(failure(Units.size("4G")), "ambiguous size unit 'G' in '4G'")
        XCTAssertEqual(failure(Units.size("4096")), "size '4096' has no unit")
        XCTAssertEqual(failure(Units.size("4 gigs")), "unknown size unit 'gigs' in '4 gigs'")
        XCTAssertEqual(failure(Units.size("lots")), "'lots' is not a size")
        XCTAssertEqual(failure(Units.size("4Gb")), "ambiguous size unit 'Gb' in '4Gb'")
        XCTAssertEqual(failure(Units.size("99999999999TiB")), "size '99999999999TiB' is too large")
    }

    func testDurations() throws {
        XCTAssertEqual(try Units.duration("300ms").get(), 300)
        XCTAssertEqual(try Units.duration("20m").get(), 1_200_000)
        XCTAssertEqual(try Units.duration("1h30m").get(), 5_400_000)
        XCTAssertEqual(try Units.duration("1.5s").get(), 1500)
        XCTAssertEqual(try Units.duration("2m30s").get(), 150_000)
    }

    func testBadDurations() {
        XCTAssertEqual(failure(Units.duration("300")), "duration '300' has no unit")
        XCTAssertEqual(failure(Units.duration("30m1h")), "units out of order in duration '30m1h'")
        XCTAssertEqual(failure(Units.duration("5 minutes")), "'5 minutes' is not a duration")
        XCTAssertEqual(failure(Units.duration("5min")), "unknown duration unit 'min' in '5min'")
        XCTAssertEqual(help(Units.duration("5min")), "write 'm' for minutes")
        XCTAssertEqual(failure(Units.duration("")), "empty duration")
    }

    func testBandwidth() throws {
        XCTAssertEqual(try Units.bandwidth("512MiB/s").get(), 512 << 20)
        XCTAssertEqual(try Units.bandwidth("1 GiB/s").get(), 1 << 30)
        XCTAssertEqual(failure(Units.bandwidth("512MiB")), "bandwidth '512MiB' has no '/s'")
        XCTAssertEqual(failure(Units.bandwidth("1Gbit/s")), "bandwidth '1Gbit/s' is in bits")
        XCTAssertEqual(failure(Units.bandwidth("512MiB/m")), "bandwidth '512MiB/m' must be per second")
        XCTAssertEqual(failure(Units.bandwidth("0MiB/s")), "bandwidth '0MiB/s' is zero")
    }

    func testFormat() {
        XCTAssertEqual(Format.kib(16 * 1024 * 1024), "16.0 GiB")
        XCTAssertEqual(Format.kib(512), "512.0 KiB")
        XCTAssertEqual(Format.duration(ms: 150_000), "2m30s")
        XCTAssertEqual(Format.duration(ms: 5_400_000), "1h30m")
        XCTAssertEqual(Format.duration(ms: 250), "250ms")
    }

    /// The figures are written without String(format:); they must keep its digits, ties included.
    func testFormatKeepsPrintfDigits() {
        var rng = SystemRandomNumberGenerator()
        var values: [UInt64] = [0, 1, 1023, 1024, 1025, 1126, 1177, 1638, 1_048_575, 1_048_576, UInt64.max, 5 << 50]
        for _ in 0..<20_000 { values.append(UInt64.random(in: 0...(1 << 40), using: &rng)) }
        for e in 0..<60 {
            values.append(1 << UInt64(e))
            values.append((1 << UInt64(e)) + (1 << UInt64(max(0, e - 4))))
        }
        for kib in values {
            var v = Double(kib) * 1024
            var i = 0
            let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
            while v >= 1024 && i < 5 {
                v /= 1024
                i += 1
            }
            XCTAssertEqual(
                Format.kib(kib), i == 0 ? "\(Int(v)) B" : String(format: "%.1f %@", v, units[i]), "\(kib) KiB")
        }
        XCTAssertEqual(Format.bytes(1.05 * 1024 * 1024), String(format: "%.1f MiB", 1.05))
        XCTAssertEqual(Format.bytes(.infinity), "? B")
        XCTAssertEqual(Format.bytes(1e300), String(format: "%.1f PiB", 1e300 / pow(1024, 5)))
    }

    func testTimeoutPerGiB() {
        let t = MigrationOptions.Timeout.perGiB(milliseconds: 120_000)
        XCTAssertEqual(t.milliseconds(forMemoryKiB: 4 * 1024 * 1024), 480_000)
        XCTAssertEqual(t.milliseconds(forMemoryKiB: 64 * 1024), 120_000, "small guests get at least one GiB's worth")
    }

    private func failure<T>(_ r: Result<T, Units.Failure>) -> String? {
        if case .failure(let f) = r { return f.message }
        return nil
    }
    private func help<T>(_ r: Result<T, Units.Failure>) -> String? {
        if case .failure(let f) = r { return f.help }
        return nil
    }
}

final class SHA256Tests: XCTestCase {
    func testVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hex(String(repeating: "a", count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

final class GlobTests: XCTestCase {
    func testMatching() {
        XCTAssertTrue(Glob("db-*").matches("db-1"))
        XCTAssertFalse(Glob("db-*").matches("app-db-1"))
        XCTAssertTrue(Glob("*-[0-9]").matches("web-7"))
        XCTAssertFalse(Glob("*-[!0-9]").matches("web-7"))
        XCTAssertTrue(Glob("w?b-*x").matches("web-12x"))
        XCTAssertTrue(Glob("*a*b*c").matches("xxaxxbxxbc"))
        XCTAssertFalse(Glob("*a*b*c").matches("xxaxxbxxbcd"))
        XCTAssertTrue(Glob("exact").matches("exact"))
        XCTAssertNotNil(Glob("db-[12").syntaxError)
        XCTAssertNil(Glob("db-[12]").syntaxError)
    }
}
