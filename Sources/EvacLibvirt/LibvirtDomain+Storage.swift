internal import CLibvirt

/// What the storage pre-conditions read of a domain: its snapshots and its disks' sizes.
extension LibvirtDomain {
    /// How many snapshots libvirt keeps for the domain (`virDomainSnapshotNum`): libvirt
    /// refuses to migrate a domain with any ("cannot migrate domain with N snapshots").
    public func snapshotCount() throws(LibvirtError) -> Int {
        Int(try Libvirt.status("virDomainSnapshotNum(\(name))", uri: uri) { virDomainSnapshotNum(handle, 0) })
    }

    /// Virtual size and host allocation of the disk with target `dev` (`virDomainGetBlockInfo`):
    /// what a storage copy pre-creates and writes on the target.
    public func blockInfo(_ dev: String) throws(LibvirtError) -> (capacity: UInt64, allocation: UInt64) {
        var info = virDomainBlockInfo()
        try Libvirt.status("virDomainGetBlockInfo(\(name), \(dev))", uri: uri) {
            virDomainGetBlockInfo(handle, dev, &info, 0)
        }
        return (UInt64(info.capacity), UInt64(info.allocation))
    }
}
