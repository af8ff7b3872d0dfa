import EvacCore
import Foundation

/// The rack12 fixture fleet as test-driver URIs.
enum Rack12 {
    static let hostNames = ["kvm-12a", "kvm-12b", "kvm-13a", "kvm-13b", "kvm-13c"]

    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("rack12")
    }

    /// `test:///abs/path/<name>.xml`
    static func uri(_ name: String) -> String { "test://" + directory.appendingPathComponent("\(name).xml").path }

    static var hosts: [(name: String, uri: String)] { hostNames.map { ($0, uri($0)) } }
}

extension HostInventory {
    func guest(_ name: String) -> Guest? { guests.first { $0.name == name } }
}

let gibInKiB: UInt64 = 1024 * 1024 // in KiB
