import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// A sample of the text exposition format 0.0.4: name, labels, value.
struct PromSample: Hashable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses Prometheus text format 0.0.4 strictly enough to catch what a scraper would reject:
/// line syntax, metric and label names, escapes, values, TYPE before samples and once per
/// family, and histogram consistency. Throws the first offending line.
enum PromText {
    struct Invalid: Error, CustomStringConvertible { var description: String }

    static func isName(_ s: Substring, colon: Bool = true) -> Bool {
        guard let f = s.first, f.isASCII, f.isLetter || f == "_" || (colon && f == ":") else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || (colon && $0 == ":")) }
    }

    static func value(_ s: Substring) -> Double? {
        switch s {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(s)
        }
    }

    static func parse(_ text: String) throws -> [PromSample] {
        var types: [String: String] = [:]
        var samples: [PromSample] = []
        guard text.hasSuffix("\n") else { throw Invalid(description: "the last line must end with a line feed") }
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let line = Substring(raw)
            func bad(_ why: String) -> Invalid { Invalid(description: "line \(n + 1): \(why): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                if parts.count >= 3, parts[1] == "TYPE" {
                    guard parts.count == 4, isName(parts[2]),
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3]))
                    else { throw bad("bad TYPE") }
                    guard types[String(parts[2])] == nil else { throw bad("second TYPE for \(parts[2])") }
                    guard !samples.contains(where: { family($0.name) == String(parts[2]) }) else {
                        throw bad("TYPE after samples")
                    }
                    types[String(parts[2])] = String(parts[3])
                } else if parts.count >= 3, parts[1] == "HELP" {
                    guard isName(parts[2]) else { throw bad("bad HELP name") }
                }
                continue
            }
            var i = line.startIndex
            while i < line.endIndex, line[i] != "{", line[i] != " " { i = line.index(after: i) }
            let name = line[..<i]
            guard isName(name) else { throw bad("bad metric name") }
            var labels: [String: String] = [:]
            if i < line.endIndex, line[i] == "{" {
                i = line.index(after: i)
                while i < line.endIndex, line[i] != "}" {
                    let eq = line[i...].firstIndex(of: "=") ?? line.endIndex
                    let key = line[i..<eq]
                    guard isName(key, colon: false), eq < line.endIndex, line.index(after: eq) < line.endIndex,
                        line[line.index(after: eq)] == "\""
                    else { throw bad("bad label") }
                    var j = line.index(eq, offsetBy: 2)
                    var v = ""
                    while j < line.endIndex, line[j] != "\"" {
                        if line[j] == "\\" {
                            j = line.index(after: j)
                            guard j < line.endIndex else { throw bad("dangling escape") }
                            switch line[j] {
                            case "\\": v += "\\"
                            case "\"": v += "\""
                            case "n": v += "\n"
                            default: throw bad("bad escape")
                            }
                        } else {
                            v.append(line[j])
                        }
                        j = line.index(after: j)
                    }
                    guard j < line.endIndex else { throw bad("unterminated label value") }
                    guard labels[String(key)] == nil else { throw bad("label \(key) twice") }
                    labels[String(key)] = v
                    i = line.index(after: j)
                    if i < line.endIndex, line[i] == "," { i = line.index(after: i) }
                }
                guard i < line.endIndex else { throw bad("unterminated labels") }
                i = line.index(after: i)
            }
            guard i < line.endIndex, line[i] == " " else { throw bad("no value") }
            let rest = line[line.index(after: i)...].split(separator: " ")
            guard (1...2).contains(rest.count), let v = value(rest[0]) else { throw bad("bad value") }
            if rest.count == 2 { guard Int64(rest[1]) != nil else { throw bad("bad timestamp") } }
            guard types[family(String(name))] != nil else { throw bad("sample before its TYPE") }
            samples.append(PromSample(name: String(name), labels: labels, value: v))
        }
        try checkHistograms(samples, types)
        return samples
    }

    static func family(_ name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return name
    }

    static func checkHistograms(_ samples: [PromSample], _ types: [String: String]) throws {
        for (name, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.name == name + "_bucket" }
            let les = buckets.map { $0.labels["le"].flatMap { value(Substring($0)) } ?? .nan }
            guard les == les.sorted(), les.last == .infinity else {
                throw Invalid(description: "\(name): buckets not ascending to +Inf")
            }
            let counts = buckets.map(\.value)
            guard counts == counts.sorted() else { throw Invalid(description: "\(name): buckets not cumulative") }
            guard let count = samples.first(where: { $0.name == name + "_count" })?.value, counts.last == count,
                samples.contains(where: { $0.name == name + "_sum" })
            else { throw Invalid(description: "\(name): +Inf bucket differs from _count or no _sum") }
        }
    }
}

struct MetricsObserverTests {
    func value(_ s: [PromSample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        s.first { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }?.value
    }

    /// A fake run with one failure and one dependant blocked: the final file parses as 0.0.4 and
    /// its figures are the run's (states, bytes of the done migrations, their durations).
    @Test func theFileOfARunHasTheRunsFigures() async throws {
        var fp = FakePlan(
            moves: (1...6).map { i in
                FakePlan.Move(
                    "g\(i)", from: "s\(i % 2)", to: "t\(i % 3)", memoryKiB: UInt64(i) * 262_144,
                    after: i == 6 ? ["g3"] : [])
            })
        fp.name = #"rack "12" \ drain"#
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(20))
        world.setFault(guest: "g3", .fail("boom"))
        let dir = TempDir()
        let path = dir.path + "/evac.prom"
        let metrics = MetricsObserver(path: path, minIntervalMs: 5)
        let j = try SQLiteJournal(path: dir.path + "/j" + JournalLocation.journalSuffix, plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j, observer: metrics).apply()
        #expect(result.status == .partial)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let s = try PromText.parse(text)
        let done = result.steps.filter { $0.state == .done }
        #expect(done.count == 4)
        #expect(value(s, "evac_migrations", ["state": "done"]) == 4)
        #expect(value(s, "evac_migrations", ["state": "failed"]) == 1)
        #expect(value(s, "evac_migrations", ["state": "blocked"]) == 1)
        #expect(value(s, "evac_migrations", ["state": "pending"]) == 0)
        #expect(value(s, "evac_migrations_in_flight") == 0)
        #expect(value(s, "evac_run_steps") == 6)
        let bytes = fp.moves.filter { m in done.contains { $0.guest == m.guest } }.reduce(0.0) {
            $0 + Double($1.memoryKiB * 1024)
        }
        #expect(value(s, "evac_migrated_bytes_total") == bytes)
        #expect(value(s, "evac_migration_duration_seconds_count") == 4)
        #expect(abs((value(s, "evac_migration_duration_seconds_sum") ?? 0) - 0.08) < 1e-9)
        #expect(value(s, "evac_migration_duration_seconds_bucket", ["le": "1.0"]) == 4)
        #expect(value(s, "evac_run_finished") == 1)
        #expect(value(s, "evac_run_outcome", ["status": "partial"]) == 1)
        #expect(value(s, "evac_run_info", ["plan": #"rack "12" \ drain"#, "kind": "apply", "run": "1"]) == 1)
        #expect(
            (value(s, "evac_run_end_timestamp_seconds") ?? 0)
                >= (value(s, "evac_run_start_timestamp_seconds") ?? .infinity))
        #expect(metrics.lastWriteError == nil)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }
        #expect(left.isEmpty, "temporary files left: \(left)")
    }

    /// While a run goes, the file says so: written at the start, in-flight and remaining bytes
    /// from the events, not finished.
    @Test func theFileDuringARun() throws {
        let dir = TempDir()
        let path = dir.path + "/during.prom"
        let m = MetricsObserver(path: path, minIntervalMs: 60_000)
        m.handle(
            .runStarted(
                RunStart(kind: .apply, planName: "p", planHash: "abc", journal: "j", runID: 3, steps: 4, alreadyDone: 1)
            ))
        var s = try PromText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(value(s, "evac_migrations", ["state": "pending"]) == 3)
        #expect(value(s, "evac_migrations", ["state": "done"]) == 1)
        #expect(value(s, "evac_run_finished") == 0)
        #expect(value(s, "evac_run_eta_seconds") == -1)
        m.handle(
            .step(
                StepChange(
                    kind: .apply, id: 2, guest: "g", source: "a", target: "b", from: .pending, to: .running, attempt: 1,
                    message: "attempt 1")))
        m.handle(
            .progress(
                ProgressSample(
                    id: 2, guest: "g", source: "a", target: "b",
                    progress: MigrationProgress(dataTotal: 100, dataRemaining: 40))))
        // Not due yet (one write a minute): the file still shows the start.
        s = try PromText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(value(s, "evac_migrations_in_flight") == 0)
        m.handle(
            .runFinished(
                RunSummary(
                    kind: .apply, status: .interrupted, message: nil, counts: StepCounts(), elapsedMs: 5, problems: []))
        )
        s = try PromText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(value(s, "evac_migrations_in_flight") == 1)
        #expect(value(s, "evac_migrations_remaining_bytes") == 40)
        #expect(value(s, "evac_run_outcome", ["status": "interrupted"]) == 1)
    }

    @Test func theCheckerRejectsWhatAScraperWould() {
        for bad in [
            "x 1", "# TYPE x gauge\nx{a=\"1} 2\n", "# TYPE x gauge\n1x 2\n", "# TYPE x gauge\nx one\n",
            "x 1\n", "# TYPE x gauge\n# TYPE x gauge\nx 1\n", "# TYPE x gauge\nx{a=\"\\q\"} 1\n",
        ] {
            #expect(throws: PromText.Invalid.self) { try PromText.parse(bad) }
        }
    }
}

struct MetricsFileSafetyTests {
    @Test func aDeviceOrFIFOIsNeverRenamedOver() throws {
        let dir = TempDir()
        let fifo = dir.path + "/metrics.prom"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: MetricsFileError.self) { try MetricsObserver.replace(fifo, with: Data("x 1\n".utf8)) }
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO)
    }
}
