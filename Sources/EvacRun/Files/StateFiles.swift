import Foundation

/// The rules for evac's state (journals, their -wal/-shm, lock files, archives), as ssh keeps
/// ~/.ssh: evac runs as root, so a state directory another user can write to would let that user
/// plant a symlink and have root's `apply` truncate, chmod or overwrite any file.
///
/// - The state directory, and every parent evac creates, must be a real directory (not a
///   symlink), owned by evac's user (or root), and not group- or world-writable; evac creates
///   missing ones 0700.
/// - Every state file is opened with `O_NOFOLLOW | O_CLOEXEC`, must be a regular file owned by
///   evac's user with one link, and is chmod'ed or truncated only through that descriptor.
public enum StateFiles {
    /// Creates `dir` (and missing parents, 0700) and checks it; refuses an unsafe one with the fix.
    public static func ensureDirectory(_ dir: String) throws(JournalError) {
        let path = dir.isEmpty ? "." : dir
        var missing: [String] = []
        var probe = path
        while !probe.isEmpty, probe != "/", !exists(probe) {
            missing.append(probe)
            probe = (probe as NSString).deletingLastPathComponent
        }
        // What evac creates is only as safe as where it creates it: another user who owns (or
        // may write to, short of a sticky /tmp) the existing parent could swap it out.
        if !missing.isEmpty { try check(parent: probe.isEmpty ? "." : probe) }
        for d in missing.reversed() {
            if mkdir(d, 0o700) != 0 && errno != EEXIST {
                throw .io(path: d, "cannot create state directory: \(String(cString: strerror(errno)))")
            }
            try check(directory: d)
        }
        try check(directory: path)
    }

    /// Whether anything (even a dangling symlink) is at `path`.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Refuses a state directory that is a symlink, not a directory, owned by another user
    /// (root excepted), or group/world-writable.
    public static func check(directory d: String) throws(JournalError) {
        var st = stat()
        guard lstat(d, &st) == 0 else {
            throw .io(path: d, "cannot examine state directory: \(String(cString: strerror(errno)))")
        }
        if st.st_mode & S_IFMT == S_IFLNK {
            throw .unsafe(
                path: d, "the state directory is a symbolic link",
                fix: "make it a real directory (`mkdir -m 700 DIR`) or point EVAC_STATE_DIR or --state-dir at one")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw .unsafe(
                path: d, "the state directory is not a directory",
                fix: "point EVAC_STATE_DIR or --state-dir at a directory")
        }
        let me = geteuid()
        if st.st_uid != me && st.st_uid != 0 {
            throw .unsafe(
                path: d, "the state directory is owned by uid \(st.st_uid), not by evac's user (uid \(me))",
                fix: "`chown \(me) \(d)`, or use a directory of your own")
        }
        if st.st_mode & 0o022 != 0 {
            throw .unsafe(
                path: d,
                "the state directory is group- or world-writable (mode \(String(st.st_mode & 0o7777, radix: 8)))",
                fix: "`chmod go-w \(d)` (evac creates it 0700)")
        }
    }

    /// The existing directory evac creates its state directory in: owned by evac's user or root,
    /// and writable by others only if sticky (as /tmp is).
    static func check(parent d: String) throws(JournalError) {
        var st = stat()
        guard stat(d, &st) == 0 else { throw .io(path: d, "cannot examine: \(String(cString: strerror(errno)))") }
        if st.st_uid != geteuid() && st.st_uid != 0 {
            throw .unsafe(
                path: d, "evac would create its state directory in a directory owned by uid \(st.st_uid)",
                fix: "create the state directory yourself (`mkdir -m 700 DIR`) somewhere of your own")
        }
        if st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0 {
            throw .unsafe(
                path: d, "evac would create its state directory in a group- or world-writable directory",
                fix: "`chmod go-w \(d)`, or create the state directory elsewhere")
        }
    }

    /// Opens (creating 0600 if asked) a state file without following a symlink, and checks it
    /// is a regular file of evac's user with a single link. The caller owns the descriptor.
    public static func open(
        _ path: String, flags: Int32, create: Bool, exclusive: Bool = false
    ) throws(JournalError) -> Int32 {
        var f = flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
        if create { f |= O_CREAT }
        if exclusive { f |= O_EXCL }
        let fd = Foundation.open(path, f, 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == ELOOP {
                throw .unsafe(
                    path: path, "is a symbolic link; evac never opens state files through one",
                    fix: "remove it (`rm \(path)`) and look for who planted it")
            }
            throw .io(path: path, "cannot open: \(String(cString: strerror(err)))")
        }
        do { try checkOpened(fd, path) } catch {
            Foundation.close(fd)
            throw error
        }
        return fd
    }

    static func checkOpened(_ fd: Int32, _ path: String) throws(JournalError) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, "cannot examine: \(String(cString: strerror(errno)))") }
        try check(st, path)
    }

    /// Refuses `path` when something other than a regular file (a symlink above all) is there:
    /// for files SQLite opens itself (the database, -wal, -shm), since GRDB cannot pass
    /// SQLITE_OPEN_NOFOLLOW. Missing is fine.
    public static func refuseLink(_ path: String) throws(JournalError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFLNK {
            throw .unsafe(
                path: path, "is a symbolic link; evac never opens state files through one",
                fix: "remove it (`rm \(path)`) and look for who planted it")
        }
        try check(st, path)
    }

    /// A regular file of evac's user with a single link.
    static func check(_ st: stat, _ path: String) throws(JournalError) {
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw .unsafe(
                path: path, "is not a regular file",
                fix: "remove it; evac keeps only regular files in its state directory")
        }
        guard st.st_uid == geteuid() else {
            throw .unsafe(
                path: path, "is owned by uid \(st.st_uid), not by evac's user (uid \(geteuid()))",
                fix: "remove it, or run evac as its owner")
        }
        guard st.st_nlink <= 1 else {
            throw .unsafe(
                path: path, "has \(st.st_nlink) hard links",
                fix: "remove it; a state file must not be a link to another file")
        }
    }

    /// `refuseLink` for a journal and the -wal and -shm files SQLite keeps beside it.
    public static func refuseLinks(journal path: String) throws(JournalError) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try refuseLink(path + suffix) }
    }
}
