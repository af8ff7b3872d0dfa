import CLibvirt
import EvacCore
import Foundation
import Testing

@testable import EvacLibvirt

/// libvirt's own errors come through whole: message, code, domain and the failing call, read
/// before anything could reset them; and they are sorted into kinds the executor acts on.
@Suite struct LibvirtErrorTests {
    let testDriver = HostEndpoint(name: "default", uri: "test:///default")
    /// The test driver's default node: a running, persistent domain "test".
    let testGuest = "6695eb01-f6a4-8304-79aa-97f2502e193f"

    /// `virDomainCreate` of a running guest fails in the driver (with a generic code). Before the capture took the
    /// description as a value, the text interpolated the guest's name through
    /// `virDomainGetName`, which reset the error first: "unknown libvirt error (code 1)".
    @Test func aFailingDomainCallKeepsLibvirtsMessageAndCode() async throws {
        let result = await LibvirtRuntime.blocking("test.create") { () -> Result<Void, LibvirtError> in
            Result { () throws(LibvirtError) in
                let c = try LibvirtConnection(uri: "test:///default")
                try c.requireDomain(uuid: testGuest).start()
            }
        }
        guard case .failure(let e) = result else {
            Issue.record("starting a running guest succeeded")
            return
        }
        // What the test driver of libvirt 9.0 reports, word for word.
        #expect(e.message == "internal error: Domain 'test' is already running", "\(e)")
        #expect(e.code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue), "\(e)")
        #expect(e.domain == Int32(VIR_FROM_TEST.rawValue), "\(e)")
        #expect(e.operation == "virDomainCreate(test)")
        #expect(e.kind == .other)
    }

    /// The same through the hypervisor adapter: the kind and libvirt's origin reach the executor
    /// (and so the journal's `libvirt_error`).
    @Test func theAdapterKeepsTheOriginAndClassifies() async throws {
        let hv = LibvirtHypervisor()
        let error = await #expect(throws: HypervisorError.self) {
            try await hv.startPostCopy(guestUUID: testGuest, source: testDriver)
        }
        #expect(error?.kind == .unsupported, "\(String(describing: error))")
        #expect(error?.origin?.call == "virDomainMigrateStartPostCopy(test)")
        #expect(error?.origin?.code == Int32(VIR_ERR_NO_SUPPORT.rawValue))
        #expect(
            error?.origin?.message.contains("virDomainMigrateStartPostCopy") == true, "\(String(describing: error))")
        #expect(
            error?.message.contains("libvirt error \(VIR_ERR_NO_SUPPORT.rawValue)") == true,
            "shown with its number: \(String(describing: error))")
        let record = try #require(error?.journalRecord)
        let back = try JSONDecoder().decode(HypervisorError.self, from: Data(record.utf8))
        #expect(back == error)
    }

    /// A guest that is not there is a typed "no domain", not a rebuilt error code.
    @Test func aMissingGuestIsGuestNotFound() async throws {
        let hv = LibvirtHypervisor()
        let missing = "00000000-0000-4000-8000-0000000000aa"
        let error = await #expect(throws: HypervisorError.self) {
            try await hv.startPostCopy(guestUUID: missing, source: testDriver)
        }
        #expect(error?.kind == .guestNotFound)
        #expect(error?.message.contains(missing) == true)
    }

    /// Messages as libvirt 9.0 gives them (from the lab's daemons and libvirt's sources).
    @Test(arguments: [
        (
            VIR_ERR_INTERNAL_ERROR, VIR_FROM_NONE,
            "internal error: Unable to find an unused port in range 'migration' (49152-49215)",
            LibvirtError.Kind.noMigrationPort
        ),
        (
            VIR_ERR_OPERATION_FAILED, VIR_FROM_QEMU, "operation failed: Lost connection to destination host",
            .connectionLost
        ),
        (
            VIR_ERR_INTERNAL_ERROR, VIR_FROM_RPC, "internal error: connection closed due to keepalive timeout",
            .connectionLost
        ),
        (VIR_ERR_SYSTEM_ERROR, VIR_FROM_RPC, "Cannot recv data: Connection reset by peer", .connectionLost),
        (VIR_ERR_SYSTEM_ERROR, VIR_FROM_RPC, "End of file while reading data: Input/output error", .connectionLost),
        (
            VIR_ERR_OPERATION_ABORTED, VIR_FROM_QEMU, "operation aborted: migration out job: canceled by client",
            .aborted
        ),
        (VIR_ERR_NO_DOMAIN, VIR_FROM_QEMU, "Domain not found: no domain with matching uuid", .noDomain),
        (
            VIR_ERR_CPU_INCOMPATIBLE, VIR_FROM_CPU,
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: avx512f",
            .cpuIncompatible
        ),
        (
            VIR_ERR_OPERATION_TIMEOUT, VIR_FROM_QEMU,
            "Timeout while waiting for another job: cannot acquire state change lock", .timeout
        ),
        (VIR_ERR_AUTH_FAILED, VIR_FROM_RPC, "authentication failed: Failed to verify peer's certificate", .authFailed),
        (
            VIR_ERR_INTERNAL_ERROR, VIR_FROM_QEMU,
            "internal error: qemu unexpectedly closed the monitor: cannot set up guest memory 'pc.ram': Cannot allocate memory",
            .noMemory
        ),
        (
            VIR_ERR_NO_SUPPORT, VIR_FROM_NONE,
            "this function is not supported by the connection driver: virDomainMigrateStartPostCopy", .noSupport
        ),
        (
            VIR_ERR_OPERATION_INVALID, VIR_FROM_QEMU, "Requested operation is not valid: domain is not running",
            .operationInvalid
        ),
        (VIR_ERR_INTERNAL_ERROR, VIR_FROM_QEMU, "internal error: qemu unexpectedly closed the monitor", .other),
        // The guest's QEMU killed mid-migration (seen on the lab): not a lost link.
        (VIR_ERR_SYSTEM_ERROR, VIR_FROM_QEMU, "Unable to read from monitor: Connection reset by peer", .other),
    ])
    func classification(code: virErrorNumber, domain: virErrorDomain, message: String, kind: LibvirtError.Kind) {
        #expect(
            LibvirtError.classify(code: Int32(code.rawValue), domain: Int32(domain.rawValue), message: message) == kind)
    }

    /// Which kinds the executor retries: those that leave the guest on its source.
    @Test func transientKinds() {
        let transient = HypervisorError.Kind.allCases.filter(\.isTransient)
        #expect(Set(transient) == [.connectionLost, .noMigrationPort, .timeout])
    }
}

/// ssh's words for an unknown host key reach the operator with what to do about them.
@Suite struct UnknownHostKeyMessageTests {
    /// libvirt 9.0's text when ssh refused the host key (seen on the lab, qemu+ssh to a host whose
    /// key was taken out of known_hosts).
    let refused = "Cannot recv data: Host key verification failed.: Connection reset by peer"

    @Test func anUnknownHostKeySaysWhoseKnownHostsAndWhatToDo() {
        let e = LibvirtError(
            code: Int32(VIR_ERR_SYSTEM_ERROR.rawValue), domain: Int32(VIR_FROM_RPC.rawValue), message: refused,
            uri: "qemu+ssh://root@10.213.0.4/system", operation: "virConnectOpenAuth")
        #expect(e.message.hasPrefix(refused), "\(e)")
        #expect(e.message.contains("known_hosts of the user that connected"), "\(e)")
        #expect(e.message.contains("ssh-keyscan"), "\(e)")
    }

    @Test func otherMessagesAreLeftAlone() {
        let e = LibvirtError(
            code: Int32(VIR_ERR_SYSTEM_ERROR.rawValue), domain: Int32(VIR_FROM_RPC.rawValue),
            message: "Cannot recv data: Connection refused", uri: nil, operation: "virConnectOpenAuth")
        #expect(e.message == "Cannot recv data: Connection refused")
    }
}
