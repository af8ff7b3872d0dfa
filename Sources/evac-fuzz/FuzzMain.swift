import EvacFuzzTargets
import Foundation

#if EVAC_LIBFUZZER
import CFuzzDriver

/// libFuzzer calls this with each input (also named so, for libFuzzer's own main, which the
/// instrumented link pulls in but SwiftPM's entry point replaces).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTargets.run(FuzzMain.target, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#endif

/// `evac-fuzz TARGET …`. Built by scripts/fuzz (-sanitize=fuzzer, EVAC_LIBFUZZER), the rest of
/// the arguments go to libFuzzer; in a normal build they are files to replay through TARGET
/// (what Tests/EvacFuzzTests does for Fuzz/crashers and Fuzz/corpus).
@main struct FuzzMain {
    nonisolated(unsafe) static var target: FuzzTargets.Target = .plan

    static func main() {
        var args = CommandLine.arguments
        guard args.count >= 2, let t = FuzzTargets.Target(rawValue: args[1]) else {
            FileHandle.standardError.write(
                Data(
                    "usage: evac-fuzz \(FuzzTargets.Target.allCases.map(\.rawValue).joined(separator: "|")) ARGS…\n"
                        .utf8))
            exit(2)
        }
        target = t
        args.remove(at: 1)
        #if EVAC_LIBFUZZER
        var argc = Int32(args.count)
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let status = cargs.withUnsafeMutableBufferPointer { buf -> Int32 in
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buf.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
        }
        exit(status)
        #else
        for path in args.dropFirst() {
            let bytes = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
            print("\(path): \(FuzzTargets.run(t, bytes))")
        }
        #endif
    }
}
