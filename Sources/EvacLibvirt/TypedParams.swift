internal import CLibvirt
import Foundation

/// A libvirt typed-parameter list we build (migration parameters); the only owner of its
/// array, freed with `virTypedParamsFree` in deinit. Blocking-free; not shared across threads.
final class TypedParams {
    private(set) var pointer: virTypedParameterPtr?
    private(set) var count: Int32 = 0
    private var capacity: Int32 = 0

    /// virTypedParamsAdd* reset libvirt's thread-local error first. Before `virInitialize` has
    /// created that thread-local key, libvirt uses pthread key 0, which another library owns:
    /// in the parallel tests glib's slice allocator then found its per-thread magazines zeroed
    /// and crashed in the next allocation on that thread (1 run in 4).
    init() { LibvirtRuntime.shared.start() }

    deinit { virTypedParamsFree(pointer, count) }

    /// Appends one value. Fails only on out-of-memory or an over-long name.
    func add(_ name: String, string value: String) throws(LibvirtError) {
        try Libvirt.status("virTypedParamsAddString(\(name))", uri: nil) {
            virTypedParamsAddString(&pointer, &count, &capacity, name, value)
        }
    }
    func add(_ name: String, ullong value: UInt64) throws(LibvirtError) {
        try Libvirt.status("virTypedParamsAddULLong(\(name))", uri: nil) {
            virTypedParamsAddULLong(&pointer, &count, &capacity, name, value)
        }
    }
    func add(_ name: String, int value: Int32) throws(LibvirtError) {
        try Libvirt.status("virTypedParamsAddInt(\(name))", uri: nil) {
            virTypedParamsAddInt(&pointer, &count, &capacity, name, value)
        }
    }
}

/// Copies a typed-parameter array that libvirt owns (job stats, event payloads) into
/// name → value strings. The caller keeps ownership of `params`.
func typedParamsDictionary(_ params: virTypedParameterPtr?, _ n: Int32) -> [String: String] {
    guard let params, n > 0 else { return [:] }
    var out: [String: String] = [:]
    for i in 0..<Int(n) {
        let p = params[i]
        let name = withUnsafeBytes(of: p.field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let value: String
        switch UInt32(bitPattern: p.type) {
        case VIR_TYPED_PARAM_INT.rawValue: value = String(p.value.i)
        case VIR_TYPED_PARAM_UINT.rawValue: value = String(p.value.ui)
        case VIR_TYPED_PARAM_LLONG.rawValue: value = String(p.value.l)
        case VIR_TYPED_PARAM_ULLONG.rawValue: value = String(p.value.ul)
        case VIR_TYPED_PARAM_DOUBLE.rawValue: value = String(p.value.d)
        case VIR_TYPED_PARAM_BOOLEAN.rawValue: value = p.value.b != 0 ? "true" : "false"
        case VIR_TYPED_PARAM_STRING.rawValue: value = p.value.s.map { String(cString: $0) } ?? ""
        default: continue
        }
        out[name] = value
    }
    return out
}
