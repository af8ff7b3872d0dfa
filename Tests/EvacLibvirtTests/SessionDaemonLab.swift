import Foundation

@testable import EvacLibvirt

/// Two or more unprivileged libvirt session daemons on this machine, set up as
/// shared/LAB.md describes (distinct host_uuid, uid 65534, XDG dirs under one temp dir).
/// Stops exactly what it started: the daemons by their PIDs, and the QEMU and virtlogd
/// processes they spawned, found by the pid files in each daemon's runtime dir (and checked
/// to belong to this lab before being signalled). Never kills by name.
final class SessionDaemonLab {
    struct Failure: Error, CustomStringConvertible { var description: String }

    struct Host {
        var name: String
        var dir: String
        var uri: String { "qemu+unix:///session?socket=\(dir)/run/libvirt/libvirt-sock" }
        var runDir: String { "\(dir)/run/libvirt" }
    }

    let root: String
    private(set) var hosts: [String: Host] = [:]
    private var daemons: [String: Process] = [:]
    static let uid: uid_t = 65534

    /// Checks the tools exist and creates the lab's root directory (short path: unix socket
    /// paths are limited to 108 bytes).
    init() throws {
        for tool in ["/usr/sbin/libvirtd", "/usr/bin/setpriv", "/usr/bin/qemu-system-x86_64"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Failure(
                description:
                    "\(tool) is missing: install libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 (see shared/LAB.md)"
            )
        }
        guard getuid() == 0 else { throw Failure(description: "the lab needs root to start daemons as uid 65534") }
        var template = Array("/tmp/evac-mig-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        root = String(cString: made)
        chmod(root, 0o755) // the daemons' uid must traverse it
    }

    /// Writes a file readable by the daemons (e.g. a boot image shared by all hosts).
    func sharedFile(_ name: String, _ data: Data) throws -> String {
        let path = "\(root)/\(name)"
        try data.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        return path
    }

    /// Starts one daemon and waits until it accepts connections (about 3 s).
    @discardableResult
    func start(_ name: String, hostUUID: String) throws -> Host {
        let dir = "\(root)/\(name)"
        let fm = FileManager.default
        for sub in ["run", "config/libvirt", "cache"] {
            try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true)
        }
        chmod("\(dir)/run", 0o700)
        try "host_uuid = \"\(hostUUID)\"\n".write(
            toFile: "\(dir)/config/libvirt/libvirtd.conf", atomically: true, encoding: .utf8)
        for path in [dir] + (fm.enumerator(atPath: dir)?.compactMap { "\(dir)/\($0 as! String)" } ?? []) {
            chown(path, Self.uid, Self.uid)
        }
        let log = "\(dir)/libvirtd.log"
        fm.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = [
            "--reuid=\(Self.uid)", "--regid=\(Self.uid)", "--clear-groups", "env", "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=\(dir)", "XDG_RUNTIME_DIR=\(dir)/run",
            "XDG_CONFIG_HOME=\(dir)/config", "XDG_CACHE_HOME=\(dir)/cache", "/usr/sbin/libvirtd",
        ]
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        daemons[name] = p
        let host = Host(name: name, dir: dir)
        hosts[name] = host

        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard p.isRunning else {
                throw Failure(description: "libvirtd for \(name) exited with \(p.terminationStatus): \(logTail(log))")
            }
            if (try? LibvirtConnection(uri: host.uri)) != nil { return host }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw Failure(description: "libvirtd for \(name) did not accept connections within 15 s: \(logTail(log))")
    }

    /// The PID of a daemon this lab started (for SIGSTOP/SIGCONT).
    func pid(_ name: String) -> pid_t? { daemons[name]?.processIdentifier }

    /// Stops one daemon (by the PID we started). Its guests' QEMU processes keep running.
    func stop(_ name: String) {
        guard let p = daemons.removeValue(forKey: name) else { return }
        terminate(p.processIdentifier, wait: { !p.isRunning })
        p.waitUntilExit()
    }

    /// Stops everything this lab started and removes its directory.
    func tearDown(guestUUIDs: [String]) {
        for host in hosts.values {
            // QEMU first (a stopped daemon leaves them running), then virtlogd, then the daemon.
            for pid in pidFiles(in: "\(host.runDir)/qemu/run")
            where cmdline(pid).contains { arg in guestUUIDs.contains(arg) } {
                kill(pid, SIGKILL)
            }
            if let pid = readPid("\(host.runDir)/virtlogd.pid"),
                environ(pid).contains("XDG_RUNTIME_DIR=\(host.dir)/run")
            {
                kill(pid, SIGTERM)
            }
        }
        for name in Array(daemons.keys) { stop(name) }
        try? FileManager.default.removeItem(atPath: root)
    }

    private func terminate(_ pid: pid_t, wait stopped: () -> Bool) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(2) // libvirtd can take long to exit; the lab needs no clean shutdown
        while !stopped() && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if !stopped() { kill(pid, SIGKILL) }
    }

    private func pidFiles(in dir: String) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".pid") && $0 != "driver.pid" }.compactMap { readPid("\(dir)/\($0)") }
    }

    private func readPid(_ path: String) -> pid_t? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap {
            pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private func cmdline(_ pid: pid_t) -> [String] { nulSeparated("/proc/\(pid)/cmdline") }
    private func environ(_ pid: pid_t) -> [String] { nulSeparated("/proc/\(pid)/environ") }
    private func nulSeparated(_ path: String) -> [String] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        return d.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    private func logTail(_ path: String) -> String {
        String((try? String(contentsOfFile: path, encoding: .utf8))?.suffix(800) ?? "(no log)")
    }
}

/// A 64 MiB TCG guest (shared/LAB.md) that boots from a read-only floppy whose boot sector
/// fills 48 MiB of RAM with a non-zero pattern and halts. Without it the guest's RAM is almost
/// all zero pages, which QEMU sends as tiny headers: even a 1 MiB/s migration would finish in
/// under a second. With it, a 1 MiB/s migration takes about 50 s (cancellable), an unlimited
/// one under a second. Read-only, so libvirt accepts it as safe to migrate without cache=none.
enum FillGuest {
    static func xml(name: String, uuid: String, bootImage: String) -> String {
        """
        <domain type='qemu'>
          <name>\(name)</name>
          <uuid>\(uuid)</uuid>
          <memory unit='MiB'>64</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='fd'/></os>
          <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <disk type='file' device='floppy'>
              <driver name='qemu' type='raw'/>
              <source file='\(bootImage)'/>
              <target dev='fda' bus='fdc'/>
              <readonly/>
            </disk>
            <controller type='usb' model='none'/>
            <memballoon model='none'/>
          </devices>
        </domain>
        """
    }

    /// A 1.44 MB floppy image. Boot sector, assembled from (GNU as, --32):
    ///   .code16: cli; lgdt gdtr; cr0 |= 1; ljmp $0x08, pm
    ///   .code32 pm: ds = es = 0x10; edi = 0x100000; ecx = 48 MiB / 4; eax = 0x5a5aa5a5;
    ///               cld; rep stosl; halt: hlt; jmp halt
    ///   gdt: null, flat 4 GiB code (0x00CF9A000000FFFF), flat data (0x00CF92000000FFFF)
    static var bootImage: Data {
        let code: [UInt8] = [
            0xFA, 0x0F, 0x01, 0x16, 0x50, 0x7C, 0x0F, 0x20, 0xC0, 0x66, 0x83, 0xC8, 0x01, 0x0F, 0x22, 0xC0,
            0xEA, 0x15, 0x7C, 0x08, 0x00, 0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8, 0x8E, 0xC0, 0xBF, 0x00, 0x00,
            0x10, 0x00, 0xB9, 0x00, 0x00, 0xC0, 0x00, 0xB8, 0xA5, 0xA5, 0x5A, 0x5A, 0xFC, 0xF3, 0xAB, 0xF4,
            0xEB, 0xFD, 0x8D, 0xB6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xFF, 0xFF, 0x00, 0x00, 0x00, 0x9A, 0xCF, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x92, 0xCF, 0x00,
            0x17, 0x00, 0x38, 0x7C,
        ]
        var image = code + [UInt8](repeating: 0, count: 510 - code.count) + [0x55, 0xAA]
        image += [UInt8](repeating: 0, count: 1_474_560 - 512)
        return Data(image)
    }
}
