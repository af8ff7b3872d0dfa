import EvacCore

/// The convergence ladder's `offline` fallback: the live migration was aborted (the guest runs
/// on its source); shut the guest down, move its definition offline, start it on the target.
///
/// Each sub-step is journaled before it is done, as the running step's reason (which starts
/// with `marker`), so that a process killed at any instant leaves a record a resume recognizes.
/// What to do next is never taken from the journal, though: it is read from where the guest is
/// (`next`), so a resume after a crash between any two calls finishes the move without doing a
/// sub-step twice, and a guest is never started while defined and active elsewhere.
///
/// A forced stop does not interrupt it: once the guest is down, finishing the move is what
/// keeps it from being left off.
struct OfflineMove: Sendable {
    let hypervisor: any Hypervisor
    let spec: StepSpec
    /// The bridge renames of the run, written into the definition that moves.
    let bridgeMap: [String: String]
    /// Journals `record` (the running step, its reason the sub-step about to be done) and shows
    /// it; throws when the journal cannot be written.
    let journal: @Sendable (StepRecord) async throws -> Void
    /// How often the source is asked whether the guest is off yet.
    var pollInterval: Duration = .milliseconds(250)

    /// What the reason of a step in the offline fallback starts with.
    static let marker = "offline fallback: "

    /// Whether the step was in the offline fallback when its record was written.
    static func isMarked(_ r: StepRecord) -> Bool { r.reason?.hasPrefix(marker) == true }

    /// What is next, from where the guest is.
    enum Next: Equatable {
        case shutdown, move, undefineSource, start, done
        /// Needs the operator: the guest is where evac must not touch it (active on the source
        /// and present on the target), or nowhere.
        case attention(String)
    }

    /// The next sub-step given the guest's presence on source and target; `keepsSource`: the
    /// plan keeps an inactive definition on the source (`undefine-source: false`).
    static func next(source: GuestPresence, target: GuestPresence, keepsSource: Bool, guest: String) -> Next {
        switch (source, target) {
        case (.present(let s, _), .absent): return s.isActive ? .shutdown : .move
        case (.present(let s, _), .present(let t, _)) where s.isActive:
            return .attention(
                "\(guest) is \(s.rawValue) on the source and \(t.rawValue) on the target: needs attention; evac will not touch it"
            )
        case (.present, .present(let t, _)): return keepsSource ? (t.isActive ? .done : .start) : .undefineSource
        case (.absent, .present(let t, _)): return t.isActive ? .done : .start
        case (.absent, .absent): return .attention("guest lost? \(guest) is on neither the source nor the target")
        }
    }

    /// How the fallback ended: the step's record (done, failed, blocked) and the event's text,
    /// or the journal failed (`seen`: the step as this process last knew it).
    enum Ending {
        /// `error`: the hypervisor's error that ended it, as the journal keeps it.
        case ended(StepRecord, error: String?)
        case journalFailed(String, seen: StepRecord)
    }

    private struct Stop: Error { let ending: Ending }

    /// Runs the fallback from `running` (the step's running record) until the guest runs on the
    /// target, or a sub-step fails.
    func run(_ running: StepRecord) async -> Ending {
        var record = running
        // Each sub-step at most once per process: a host that keeps undoing them is not chased.
        var done: [Next] = []
        do throws(Stop) {
            while true {
                let (source, target) = try await whereIs(record)
                let next = Self.next(
                    source: source, target: target, keepsSource: !spec.options.undefineSource, guest: spec.guest)
                if next != .done, done.contains(next) {
                    return end(record, .failed, "\(Self.marker)\(spec.guest) is still not moved after \(next)")
                }
                done.append(next)
                switch next {
                case .done: return finished(record)
                case .attention(let why): return end(record, .failed, why)
                case .shutdown: try await shutDown(&record)
                case .move:
                    try await step(&record, "moving the definition of \(spec.guest) to \(spec.target.name)") {
                        () async throws(HypervisorError) in
                        let r = spec.request(mode: .offline, bridgeMap: bridgeMap)
                        _ = try await hypervisor.migrate(r) { _ in }
                    }
                case .undefineSource:
                    try await step(&record, "removing the definition of \(spec.guest) from \(spec.source.name)") {
                        () async throws(HypervisorError) in
                        try await hypervisor.undefine(guestUUID: spec.uuid, on: spec.source)
                    }
                case .start:
                    try await step(&record, "starting \(spec.guest) on \(spec.target.name)") {
                        () async throws(HypervisorError) in
                        try await hypervisor.start(guestUUID: spec.uuid, on: spec.target)
                    }
                }
            }
        } catch {
            return error.ending
        }
    }

    /// The ACPI request, then the wait for the guest to be off; past the plan's deadline a
    /// destroy when the plan allows it, else the step fails with the guest on its source.
    private func shutDown(_ record: inout StepRecord) async throws(Stop) {
        let ladder = spec.options.ladder ?? ConvergenceLadder()
        let deadline = ladder.shutdownDeadlineMs
        let afterwards = ladder.forcesOff ? "then forced off" : "no force-off"
        try await step(
            &record,
            "shutting down \(spec.guest) on \(spec.source.name) (ACPI, up to \(Format.planDuration(ms: deadline)); \(afterwards))"
        ) { () async throws(HypervisorError) in
            try await hypervisor.shutdown(guestUUID: spec.uuid, on: spec.source)
        }
        if await isOff(within: .milliseconds(deadline)) { return }
        guard ladder.forcesOff else {
            throw Stop(
                ending: end(
                    record, .failed,
                    "\(spec.guest) did not shut down within \(Format.planDuration(ms: deadline)) and the plan does not "
                        + "force it off (ladder.force-off): it stays on \(spec.source.name), where the shutdown it was "
                        + "asked for may still happen"))
        }
        try await step(&record, "forcing \(spec.guest) off on \(spec.source.name) (destroy)") {
            () async throws(HypervisorError) in
            try await hypervisor.destroy(guestUUID: spec.uuid, on: spec.source)
        }
    }

    /// Polls the source until the guest is not active, or `limit` passed.
    private func isOff(within limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let until = clock.now + limit
        while true {
            if case .present(let s, _)? = try? await hypervisor.locate(guestUUID: spec.uuid, on: spec.source),
                !s.isActive
            {
                return true
            }
            guard clock.now < until else { return false }
            do { try await Task.sleep(for: min(pollInterval, until - clock.now)) } catch { return false }
        }
    }

    /// Journals the sub-step `what`, then does it; a failure ends the step, its reason saying
    /// where the guest was left (and keeping the marker: a resume finishes the move).
    private func step(
        _ record: inout StepRecord, _ what: String, _ body: () async throws(HypervisorError) -> Void
    ) async throws(Stop) {
        record.reason = Self.marker + what
        do { try await journal(record) } catch {
            throw Stop(ending: .journalFailed("\(error)", seen: record))
        }
        do throws(HypervisorError) { try await body() } catch {
            throw Stop(
                ending: end(
                    record, .failed, "\(Self.marker)\(what) failed: \(error.message); `evac resume` finishes the move",
                    error: error))
        }
    }

    /// Where the guest is on both hosts; a host that does not answer blocks the step, which a
    /// resume then finishes.
    private func whereIs(_ record: StepRecord) async throws(Stop) -> (GuestPresence, GuestPresence) {
        do throws(HypervisorError) {
            let source = try await hypervisor.locate(guestUUID: spec.uuid, on: spec.source)
            return (source, try await hypervisor.locate(guestUUID: spec.uuid, on: spec.target))
        } catch {
            throw Stop(
                ending: end(
                    record, .blocked,
                    "\(Self.marker)cannot tell where \(spec.guest) is: \(Checks.describe(error)); `evac resume` finishes the move when it answers",
                    error: error))
        }
    }

    private func finished(_ record: StepRecord) -> Ending {
        end(
            record, .done,
            "moved offline (the convergence ladder's fallback): shut down on \(spec.source.name), running on \(spec.target.name)"
        )
    }

    private func end(_ record: StepRecord, _ state: StepState, _ why: String, error: HypervisorError? = nil) -> Ending {
        var r = record
        r.state = state
        r.reason = why
        r.finished = Timestamp.now()
        r.stats = nil
        return .ended(r, error: error?.journalRecord)
    }
}
