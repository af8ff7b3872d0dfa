import EvacFuzzTargets
import Foundation
import Testing

/// Every input under Fuzz/crashers/TARGET/ (each crash a fuzzer ever found, kept as a
/// regression input) and every seed under Fuzz/corpus/TARGET/ goes through the same entry
/// point the fuzzer drives: none may trap. A trap kills the test process, which fails the run.
@Suite struct CrasherReplayTests {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func files(_ kind: String, _ target: FuzzTargets.Target) -> [URL] {
        let dir = fuzz.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTargets.Target.allCases)
    func crashersNoLongerCrash(_ target: FuzzTargets.Target) throws {
        for file in Self.files("crashers", target) {
            let bytes = try [UInt8](Data(contentsOf: file))
            let outcome = FuzzTargets.run(target, bytes)
            #expect(!outcome.isEmpty, "\(file.lastPathComponent)")
        }
    }

    @Test(arguments: FuzzTargets.Target.allCases)
    func seedsAreReadAsTheirKind(_ target: FuzzTargets.Target) throws {
        let seeds = Self.files("corpus", target)
        #expect(!seeds.isEmpty, "Fuzz/corpus/\(target.rawValue) has seeds")
        var accepted = 0
        for file in seeds {
            let outcome = FuzzTargets.run(target, try [UInt8](Data(contentsOf: file)))
            if outcome.hasPrefix("valid") || outcome.hasPrefix("accepted") || outcome.contains("plan accepted") {
                accepted += 1
            }
        }
        // The seeds include good inputs of each kind, so the fuzzer starts from deep paths.
        #expect(accepted > 0, "no seed of \(target.rawValue) is accepted")
    }
}
