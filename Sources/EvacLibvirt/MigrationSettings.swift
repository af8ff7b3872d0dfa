internal import CLibvirt
import EvacCore

/// The flags and typed parameters of one `virDomainMigrateToURI3` call, derived from a
/// request. Pure (no libvirt calls), so the mapping is testable without a daemon.
struct MigrationSettings: Equatable {
    enum Param: Equatable {
        case string(String, String)
        case ullong(String, UInt64)
        case int(String, Int32)
    }
    var flags: UInt32
    var params: [Param]

    /// `destinationXML`: the rewritten domain XML when the request maps bridges, else nil;
    /// `persistentXML`: the rewritten definition the target keeps (without it libvirt saves the
    /// source's definition, old bridge names and all, and the guest breaks at its next boot).
    init(_ request: MigrationRequest, destinationXML: String?, persistentXML: String? = nil) {
        let o = request.options
        var f = VIR_MIGRATE_PEER2PEER.rawValue
        switch request.mode {
        case .live: f |= VIR_MIGRATE_LIVE.rawValue
        case .paused: break // no LIVE: libvirt pauses the guest for the whole transfer
        case .offline: f |= VIR_MIGRATE_OFFLINE.rawValue | VIR_MIGRATE_PERSIST_DEST.rawValue // offline requires persist
        }
        if o.persist { f |= VIR_MIGRATE_PERSIST_DEST.rawValue }
        if o.undefineSource { f |= VIR_MIGRATE_UNDEFINE_SOURCE.rawValue }
        let movesMemory = request.mode != .offline
        if movesMemory {
            if o.autoConverge != nil { f |= VIR_MIGRATE_AUTO_CONVERGE.rawValue }
            if o.compression { f |= VIR_MIGRATE_COMPRESSED.rawValue }
            // Post-copy must be enabled up front; switching is the executor's call (startPostCopy).
            if o.postCopy != .never && request.mode == .live { f |= VIR_MIGRATE_POSTCOPY.rawValue }
            if o.parallelConnections != nil { f |= VIR_MIGRATE_PARALLEL.rawValue }
        }
        if !request.copyStorage.isEmpty { f |= VIR_MIGRATE_NON_SHARED_DISK.rawValue }
        if o.tls == true { f |= VIR_MIGRATE_TLS.rawValue }
        flags = f

        var p: [Param] = []
        if let uri = request.target.migrateURI { p.append(.string(VIR_MIGRATE_PARAM_URI, uri)) }
        if let xml = destinationXML { p.append(.string(VIR_MIGRATE_PARAM_DEST_XML, xml)) }
        if let xml = persistentXML, f & VIR_MIGRATE_PERSIST_DEST.rawValue != 0 {
            p.append(.string(VIR_MIGRATE_PARAM_PERSIST_XML, xml))
        }
        if movesMemory {
            if o.compression, let method = o.compressionMethod {
                p.append(.string(VIR_MIGRATE_PARAM_COMPRESSION, method.rawValue))
            }
            if let bps = o.bandwidthBytesPerSec {
                // libvirt takes MiB/s; round up so a small cap never becomes 0 (= unlimited).
                p.append(.ullong(VIR_MIGRATE_PARAM_BANDWIDTH, max(1, (bps + 1_048_575) / 1_048_576)))
            }
            if let ac = o.autoConverge {
                p.append(.int(VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL, Int32(clamping: ac.initial)))
                p.append(.int(VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT, Int32(clamping: ac.increment)))
            }
            if let n = o.parallelConnections {
                p.append(.int(VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, Int32(clamping: n)))
            }
        }
        // One entry per disk: libvirt reads repeated MIGRATE_DISKS parameters as a list.
        for dev in request.copyStorage { p.append(.string(VIR_MIGRATE_PARAM_MIGRATE_DISKS, dev)) }
        params = p
    }

    /// The C parameter list; the returned object owns it.
    func typedParams() throws(LibvirtError) -> TypedParams {
        let t = TypedParams()
        for param in params {
            switch param {
            case .string(let k, let v): try t.add(k, string: v)
            case .ullong(let k, let v): try t.add(k, ullong: v)
            case .int(let k, let v): try t.add(k, int: v)
            }
        }
        return t
    }
}
