import EvacCore
import EvacFake
import Foundation
import GRDB
import Testing

@testable import EvacRun

/// Issue 9, as root (the way evac runs): symlinks and modes planted in the state directory
/// must be refused with the fix, and nothing they point at may be touched.
@Suite(.serialized) struct StateFilesTests {
    /// A file outside the state directory that a planted symlink aims at.
    final class Victim {
        let dir = TempDir()
        let path: String
        let content = "root:x:0:0:do not touch\n"
        init() throws {
            path = dir.path + "/victim"
            try content.write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o644)
        }
        var untouched: Bool {
            var st = stat()
            return (try? String(contentsOfFile: path, encoding: .utf8)) == content && lstat(path, &st) == 0
                && st.st_mode & 0o7777 == 0o644
        }
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        lstat(path, &st)
        return st.st_mode & 0o7777
    }

    @Test func missingDirectoriesAreCreatedPrivate() throws {
        let base = TempDir()
        let dir = base.path + "/a/b/state"
        try StateFiles.ensureDirectory(dir)
        for d in [base.path + "/a", base.path + "/a/b", dir] { #expect(mode(d) == 0o700, "\(d)") }
    }

    @Test func worldWritableOrForeignOrLinkedStateDirectoriesAreRefused() throws {
        let base = TempDir()
        let open = base.path + "/open"
        mkdir(open, 0o700)
        chmod(open, 0o777)
        #expect(throws: JournalError.self) { try StateFiles.ensureDirectory(open) }
        do { try StateFiles.ensureDirectory(open) } catch {
            #expect("\(error)".contains("group- or world-writable") && "\(error)".contains("chmod go-w"))
        }
        let group = base.path + "/group"
        mkdir(group, 0o770)
        chmod(group, 0o770)
        #expect(throws: JournalError.self) { try StateFiles.ensureDirectory(group) }

        let link = base.path + "/link"
        let real = base.path + "/real"
        mkdir(real, 0o700)
        symlink(real, link)
        do {
            try StateFiles.ensureDirectory(link)
            Issue.record("a symlinked state directory was accepted")
        } catch {
            #expect("\(error)".contains("symbolic link"))
        }
        if geteuid() == 0 {
            let foreign = base.path + "/foreign"
            mkdir(foreign, 0o700)
            chown(foreign, 65534, 65534)
            do {
                try StateFiles.ensureDirectory(foreign)
                Issue.record("another user's directory was accepted")
            } catch {
                #expect("\(error)".contains("owned by uid 65534"))
            }
            // Nor may evac create its directory inside another user's directory.
            #expect(throws: JournalError.self) { try StateFiles.ensureDirectory(foreign + "/sub") }
        }
    }

    @Test func aPlantedLockSymlinkIsRefusedAndItsTargetUntouched() throws {
        let dir = TempDir()
        let victim = try Victim()
        let plan = try smallPlan().planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        symlink(victim.path, path + ".lock")
        do {
            _ = try SQLiteJournal(path: path, plan: plan)
            Issue.record("opened through a symlinked lock")
        } catch {
            #expect("\(error)".contains("symbolic link"), "\(error)")
        }
        #expect(victim.untouched)
        #expect(JournalLock.currentHolder(journalPath: path) == nil)
    }

    @Test(arguments: ["", "-wal", "-shm"])
    func aPlantedJournalSymlinkIsRefusedAndItsTargetUntouched(_ suffix: String) throws {
        let dir = TempDir()
        let victim = try Victim()
        let plan = try smallPlan().planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        symlink(victim.path, path + suffix)
        do {
            _ = try SQLiteJournal(path: path, plan: plan)
            Issue.record("opened through a symlinked \(suffix)")
        } catch {
            #expect("\(error)".contains("symbolic link"), "\(error)")
        }
        #expect(victim.untouched)
    }

    @Test func aHardLinkedJournalIsRefused() throws {
        let dir = TempDir()
        let victim = try Victim()
        let plan = try smallPlan().planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        #expect(link(victim.path, path) == 0)
        #expect(throws: JournalError.self) { try SQLiteJournal(path: path, plan: plan) }
        #expect(victim.untouched)
    }

    @Test func archivingNeverWritesThroughAPlantedName() async throws {
        let dir = TempDir()
        let victim = try Victim()
        let plan = try smallPlan().planFile()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        j.close()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let stem = String(j.path.dropLast(JournalLocation.journalSuffix.count))
        // A name taken by a link to an existing file is skipped; a dangling link is refused.
        symlink(victim.path, "\(stem).closed-\(JournalArchive.stamp(now))\(JournalLocation.journalSuffix)")
        let dangling = victim.dir.path + "/created-by-root"
        symlink(dangling, "\(stem).closed-\(JournalArchive.stamp(now))-2\(JournalLocation.journalSuffix)")
        #expect(throws: JournalError.self) { try JournalArchive.archive(path: j.path, now: now) }
        #expect(victim.untouched)
        #expect(!FileManager.default.fileExists(atPath: dangling))
        #expect(FileManager.default.fileExists(atPath: j.path), "the journal stays when its archive cannot be made")
    }

    // MARK: input files

    func readError(_ path: String, limit: Int = 1 << 20) -> String? {
        do {
            _ = try InputFile.read(path, what: "plan file", limit: limit)
            return nil
        } catch { return error.reason }
    }

    @Test func inputFilesThatAreNotFilesSayWhatTheyAre() throws {
        let dir = TempDir()
        #expect(readError(dir.path) == "plan file is a directory, not a regular file")
        let fifo = dir.path + "/fifo"
        mkfifo(fifo, 0o600)
        #expect(
            readError(fifo) == "plan file is a FIFO (named pipe), not a regular file", "opening a FIFO must not block")
        #expect(readError("/dev/null") == "plan file is a character device, not a regular file")
        let loop = dir.path + "/loop"
        symlink(loop, loop)
        #expect(readError(loop)?.contains("symbolic link loop") == true)
        #expect(readError(dir.path + "/missing") == "plan file does not exist")
        let big = dir.path + "/big"
        try Data(count: 2 << 20).write(to: URL(fileURLWithPath: big))
        #expect(readError(big)?.contains("evac reads at most 1 MiB") == true)
        let ok = dir.path + "/ok"
        try "x: 1\n".write(toFile: ok, atomically: false, encoding: .utf8)
        #expect(readError(ok) == nil)
    }

    @Test func unreadableInputFilesAreReportedAsSuch() throws {
        guard geteuid() == 0 else { return }
        // Root reads any mode, so drop to nobody in a child to see EACCES: not worth a fork
        // here; the mapping is checked directly instead.
        #expect(InputFile.openFailure(EACCES) == "cannot be read: permission denied")
        #expect(InputFile.openFailure(ELOOP).contains("loop"))
    }

    // MARK: output files

    @Test func outputFilesArePrivateAndReplaceAPlantedSymlink() throws {
        let dir = TempDir()
        let victim = try Victim()
        let out = dir.path + "/plan.json"
        symlink(victim.path, out)
        let old = umask(0)
        defer { umask(old) }
        try OutputFile.write(Data("{}\n".utf8), to: out)
        #expect(victim.untouched)
        var st = stat()
        #expect(lstat(out, &st) == 0 && st.st_mode & S_IFMT == S_IFREG)
        #expect(st.st_mode & 0o7777 == 0o600)
        #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "{}\n")
        #expect(throws: OutputFile.Failure.self) { try OutputFile.write(Data(), to: dir.path) }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["plan.json"], "no temp file left"
        )
    }

    // MARK: journals that are not what evac wrote

    func journalWithSteps() async throws -> (TempDir, String) {
        let dir = TempDir()
        let plan = try smallPlan().planFile()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        let steps = plan.applySpecs().map { $0.newRecord() }
        try await j.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash,
                    planName: plan.planName, started: "x", command: "test"), insertSteps: steps))
        j.close()
        return (dir, j.path)
    }

    func edit(_ path: String, _ sql: String, _ args: StatementArguments = []) throws {
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: sql, arguments: args) }
        try db.close()
    }

    @Test(arguments: [
        "UPDATE steps SET attempt = 'done'", "UPDATE steps SET guest = x'ff'", "UPDATE run SET started = x'ff00'",
        "UPDATE steps SET state = 'teleported'", "UPDATE meta SET value = x'ff00' WHERE key = 'plan_name'",
        "INSERT INTO events (run_id, kind, migration_id, at, message) VALUES ('one', 'apply', 1, 'now', 'm')",
    ])
    func cellsOfTheWrongTypeAreErrorsNotTraps(_ sql: String) async throws {
        let (dir, path) = try await journalWithSteps()
        _ = dir
        try edit(path, sql)
        let status: Result<JournalStatus, JournalError> = Result { () throws(JournalError) in
            try JournalStatus.read(path: path)
        }
        let events = Result { () throws(JournalError) in try JournalStatus.events(path: path, kind: .apply, id: 1) }
        if sql.hasPrefix("INSERT INTO events") {
            guard case .failure = events else {
                Issue.record("a bad event row was read")
                return
            }
        } else if !sql.contains("plan_name") {
            guard case .failure(let e) = status else {
                Issue.record("\(sql): read")
                return
            }
            #expect("\(e)".contains(path))
        }
    }

    @Test func aStoredPlanEditedUnderItsOldHashIsRefused() async throws {
        let (dir, path) = try await journalWithSteps()
        _ = dir
        #expect(throws: Never.self) { try JournalStatus.storedPlan(path: path) }
        let json =
            try await DatabaseQueue(path: path).read {
                try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'plan'")
            } ?? ""
        let evil = json.replacingOccurrences(
            of: "qemu+ssh://root@src-a/system", with: "qemu+ext:///system?command=/tmp/prog")
        #expect(evil != json)
        try edit(path, "UPDATE meta SET value = ? WHERE key = 'plan'", [evil])
        do {
            _ = try JournalStatus.storedPlan(path: path)
            Issue.record("an edited plan was trusted")
        } catch {
            guard case .untrusted = error else {
                Issue.record("\(error)")
                return
            }
            #expect("\(error)".contains("modified after it was written"))
        }
        // Resealed with a new hash, but the journal is keyed to the old one: still refused.
        var plan = try JSONDecoder().decode(PlanFile.self, from: Data(evil.utf8))
        plan.hosts = plan.hosts.map {
            var h = $0
            h.uri = "qemu+ssh://root@\(h.name)/system"
            return h
        }
        plan.planName = "other"
        plan.planHash = plan.computedHash
        try edit(
            path, "UPDATE meta SET value = ? WHERE key = 'plan'", [String(decoding: plan.encoded(), as: UTF8.self)])
        do {
            _ = try JournalStatus.storedPlan(path: path)
            Issue.record("a swapped plan was trusted")
        } catch {
            #expect("\(error)".contains("is keyed to plan"))
        }
    }
}
