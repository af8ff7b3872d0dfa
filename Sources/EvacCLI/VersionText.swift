import EvacCore
import EvacLibvirt

/// What `evac --version` prints: evac's version and the libvirt library it runs with.
enum EvacVersionText {
    static let evac = EvacVersion.current

    static func full() -> String {
        "evac \(evac)\nlibvirt \(LibvirtVersion.library() ?? "unknown") (library in use)\n"
    }
}
