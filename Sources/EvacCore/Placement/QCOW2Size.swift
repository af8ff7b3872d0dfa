/// The room a storage copy's qcow2 image takes in the target pool. libvirt pre-creates it
/// (qemuMigrationDstPrecreateDisk) from a volume XML with the source's capacity and no
/// allocation, so the allocation defaults to the capacity, and for a qcow2 volume whose
/// allocation is not below its capacity libvirt runs `qemu-img create -o preallocation=falloc`:
/// the image is allocated in full before any data is copied, whatever the source holds (on the
/// lab a 64 MiB image holding 8 MiB took 67,436,544 bytes on the target). That is qemu-img's
/// "fully allocated size" (`qemu-img measure`, qcow2_calc_prealloc_size in QEMU's
/// block/qcow2.c) for the options libvirt leaves at QEMU's defaults: 64 KiB clusters, 16-bit
/// refcounts, no extended L2 entries.
enum QCOW2Size {
    static let cluster: UInt64 = 65_536
    /// Entries of 8 bytes per table cluster (L1, L2 and the refcount table alike).
    static let entriesPerCluster: UInt64 = cluster / 8
    /// 16-bit refcounts per refcount block.
    static let refcountsPerBlock: UInt64 = cluster * 8 / 16

    /// Bytes of a fully allocated qcow2 image of `virtual` bytes: the data clusters plus the
    /// header, L2 and L1 tables, and the refcount blocks and table that count them all. nil
    /// beyond 2^60 bytes, which no pool holds (the arithmetic stays far from overflow below).
    static func preallocated(virtual: UInt64) -> UInt64? {
        guard virtual <= 1 << 60 else { return nil }
        let data = roundUp(virtual, cluster)
        var meta = cluster // the header
        let l2Entries = roundUp(data / cluster, entriesPerCluster)
        meta += l2Entries * 8
        let l1Entries = roundUp(l2Entries * 8 / cluster, entriesPerCluster)
        meta += l1Entries * 8
        meta += refcountBytes(clusters: (meta + data) / cluster)
        return meta + data
    }

    /// The refcount blocks and table for `clusters` clusters, counting themselves too: the
    /// fixed point qcow2_refcount_metadata_size looks for.
    static func refcountBytes(clusters: UInt64) -> UInt64 {
        var blocks: UInt64 = 0
        var table: UInt64 = 0
        var last: UInt64
        var n: UInt64 = 0
        repeat {
            last = n
            blocks = divRoundUp(clusters + table + blocks, refcountsPerBlock)
            table = divRoundUp(blocks, entriesPerCluster)
            n = clusters + blocks + table
        } while n != last
        return (blocks + table) * cluster
    }

    private static func divRoundUp(_ a: UInt64, _ b: UInt64) -> UInt64 { (a + b - 1) / b }
    private static func roundUp(_ a: UInt64, _ b: UInt64) -> UInt64 { divRoundUp(a, b) * b }
}
