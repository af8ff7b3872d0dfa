internal import CLibvirt
import Foundation

extension LibvirtDomain {
    /// Runs a query on the domain, waiting out a migration that holds it. After `kill -9` of
    /// evac in the middle of a migration, the source daemon goes on migrating the guest by
    /// itself, and until that ends queries on the domain fail (libvirt 9.0 answers with a
    /// generic error, not "no domain"). Resume must wait for the outcome — a migration that
    /// completes counts as done — rather than give up on the host.
    ///
    /// After each failure the domain is looked up again by UUID: gone means it left (the
    /// migration completed) and is reported as "no domain"; still there with a job means wait;
    /// still there without a job means a real error, reported after a few tries.
    func settled<T>(maxWait: TimeInterval = 600, _ body: () throws(LibvirtError) -> T) throws(LibvirtError) -> T {
        let deadline = Date().addingTimeInterval(maxWait)
        let uuid = try? uuidString()
        var attemptsWithoutJob = 0
        while true {
            do throws(LibvirtError) {
                return try body()
            } catch {
                if error.isNoDomain { throw error }
                if let uuid, case .success(nil) = lookUp(uuid: uuid) {
                    throw LibvirtError(
                        .noDomain, message: "domain \(uuid) left while it was being read", uri: connection.uri,
                        operation: error.operation)
                }
                let jobRunning = ((try? jobStats())?.type).map { $0 != Int32(VIR_DOMAIN_JOB_NONE.rawValue) } ?? false
                if !jobRunning { attemptsWithoutJob += 1 }
                if attemptsWithoutJob >= 5 || Date() >= deadline { throw error }
                Thread.sleep(forTimeInterval: jobRunning ? 1 : 0.5)
            }
        }
    }

    /// The domain with `uuid` on this connection now, as a `Result` so a failed lookup is not the failure reported.
    private func lookUp(uuid: String) -> Result<LibvirtDomain?, LibvirtError> {
        Result { () throws(LibvirtError) in try connection.domain(uuid: uuid) }
    }
}
