internal import CLibvirt

/// The version of the libvirt library evac runs with (not the one it was built against).
public enum LibvirtVersion {
    /// "9.0.0", from `virGetVersion`; nil if libvirt cannot say.
    public static func library() -> String? {
        LibvirtRuntime.shared.start()
        var version: UInt = 0
        guard
            Libvirt.optional(
                "virGetVersion", uri: nil,
                { () throws(LibvirtError) in
                    try Libvirt.status("virGetVersion", uri: nil) { virGetVersion(&version, nil, nil) }
                }) != nil
        else { return nil }
        return "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)"
    }
}
