import EvacCLI
import Foundation

@main
struct Entrypoint {
    static func main() async {
        // First of all, before libvirt exists in the process: libvirt writes to its sockets with
        // write(2), and a daemon that dies mid-call must not kill evac with SIGPIPE (exit 141).
        signal(SIGPIPE, SIG_IGN)
        await EvacCommand.runMain()
    }
}
