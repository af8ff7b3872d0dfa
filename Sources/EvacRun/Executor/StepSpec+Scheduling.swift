import EvacCore

extension StepSpec: SchedulableStep {
    var sourceHost: String { source.name }
    var targetHost: String { target.name }
}

/// The executor's walk over the core's scheduler.
typealias Scheduler = SlotScheduler<StepSpec>

extension StepState {
    /// What a step that ended in this state means to the steps waiting for it.
    var slotOutcome: SlotOutcome {
        switch self {
        case .done: return .done
        // Aborted by the operator before it began: dependents just stay waiting.
        case .pending: return .requeued
        default: return .notDone(phrase: phrase)
        }
    }

    /// "waits for GUEST, which …"
    var phrase: String {
        switch self {
        case .failed: return "failed"
        case .blocked: return "is blocked"
        case .rolledBack: return "was rolled back"
        case .pending: return "was not started"
        case .running: return "is still running"
        case .done, .skipped: return "is \(rawValue)"
        }
    }
}
