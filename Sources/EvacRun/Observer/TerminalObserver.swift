import EvacCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// On a terminal: a live block (one line per migration in flight, then an overall bar) redrawn
/// in place at most every `minRedrawMs`, with permanent events (steps that ended, notices, the
/// summary) printed above it so the scrollback keeps a log. `ProgressScreen` holds the state and
/// the text; this class only decides when to draw and writes the escape codes.
public final class TerminalObserver: RunObserver, Sendable {
    /// How the terminal is drawn.
    public struct Options: Sendable {
        /// Colour the permanent lines by outcome; off when `NO_COLOR` is set.
        public var color: Bool
        /// Fixed size instead of asking the terminal (tests, or when the ioctl fails).
        public var width: Int?
        /// Fixed number of rows, likewise.
        public var rows: Int?
        /// The shortest time between two redraws of the live block, in milliseconds.
        public var minRedrawMs: UInt64
        /// Colour, the terminal's own size, and at most 5 redraws a second.
        public init(color: Bool = true, width: Int? = nil, rows: Int? = nil, minRedrawMs: UInt64 = 200) {
            self.color = color
            self.width = width
            self.rows = rows
            self.minRedrawMs = minRedrawMs
        }
    }

    /// Runs `work` after `ms` milliseconds; injectable so tests fire deferred redraws by hand.
    public typealias Scheduler = @Sendable (_ ms: UInt64, _ work: @escaping @Sendable () -> Void) -> Void

    private struct State {
        var screen = ProgressScreen()
        /// Lines of the live block currently on screen: how far up the next frame starts.
        var drawn = 0
        var lastDrawMs: UInt64?
        var dirty = false
        var timerArmed = false
        var finished = false
    }

    private let handle: FileHandle
    private let options: Options
    private let now: @Sendable () -> UInt64
    private let schedule: Scheduler
    private let state = Locked(State())

    /// An observer drawing on `handle`; `clockMs` and `scheduler` replace the clock and the redraw timer in tests.
    public init(
        handle: FileHandle = .standardOutput, options: Options = Options(),
        clockMs: (@Sendable () -> UInt64)? = nil, scheduler: Scheduler? = nil
    ) {
        self.handle = handle
        self.options = options
        now = clockMs ?? { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
        let queue = DispatchQueue(label: "evac.terminal-observer")
        schedule =
            scheduler ?? { ms, work in queue.asyncAfter(deadline: .now() + .milliseconds(Int(ms)), execute: work) }
    }

    /// Whether `fd` is a terminal at all.
    public static func isTerminal(_ fd: Int32 = STDOUT_FILENO) -> Bool { isatty(fd) == 1 }

    /// A terminal that understands cursor movement: `TERM=dumb` (Emacs shells, some CI) does not.
    public static func supported(
        _ fd: Int32 = STDOUT_FILENO,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        let term = environment["TERM"] ?? ""
        return isTerminal(fd) && !term.isEmpty && term != "dumb"
    }

    /// What the CLI should use for stdout: this on a capable terminal (colourless under
    /// `NO_COLOR`, per no-color.org), otherwise one plain line per event.
    public static func forStandardOutput(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> any RunObserver {
        guard supported(environment: environment) else { return PlainObserver() }
        return TerminalObserver(options: Options(color: (environment["NO_COLOR"] ?? "").isEmpty))
    }

    /// Prints permanent lines at once and redraws the live block at most every `minRedrawMs`;
    /// after the summary, ignores events until the next run starts.
    public func handle(_ event: RunEvent) {
        state.withLock { s in
            if case .runStarted = event { s.finished = false }
            guard !s.finished else { return }
            let t = now()
            let permanent = s.screen.apply(event, atMs: t)
            if case .runFinished = event {
                // The summary replaces the live block: nothing below it once the run is over.
                s.finished = true
                write(frame(up: s.drawn, permanent: colored(permanent, event), live: []))
                s.drawn = 0
                return
            }
            s.dirty = true
            // Permanent lines go out at once (they are the log); progress waits for its slot.
            if !permanent.isEmpty || s.lastDrawMs.map({ t >= $0 + options.minRedrawMs }) ?? true {
                draw(&s, permanent: colored(permanent, event), at: t)
            } else if !s.timerArmed {
                s.timerArmed = true
                let wait = s.lastDrawMs.map { $0 + options.minRedrawMs - t } ?? 0
                schedule(wait) { [weak self] in self?.timerFired() }
            }
        }
    }

    private func timerFired() {
        state.withLock { s in
            s.timerArmed = false
            if s.dirty && !s.finished { draw(&s, permanent: [], at: now()) }
        }
    }

    private func draw(_ s: inout State, permanent: [String], at t: UInt64) {
        let (width, rows) = size()
        // One column spare: some terminals wrap on writing the last column, which would add a
        // line the cursor-up count does not know about.
        let live = s.screen.render(width: max(1, width - 1), maxLines: max(2, rows - 1))
        write(frame(up: s.drawn, permanent: permanent, live: live))
        s.drawn = live.count
        s.lastDrawMs = t
        s.dirty = false
    }

    /// Up over the old block, then each line cleared and rewritten, then clear what a longer old
    /// block left below. `ESC[0A` would move up one line on many terminals, hence the guard.
    func frame(up: Int, permanent: [String], live: [String]) -> String {
        var out = up > 0 ? "\r\u{1B}[\(up)A" : "\r"
        for line in permanent + live { out += "\u{1B}[2K" + line + "\n" }
        return out + "\u{1B}[J"
    }

    private func colored(_ lines: [String], _ event: RunEvent) -> [String] {
        guard options.color else { return lines }
        let code: String
        switch event {
        case .step(let c) where c.to == .done: code = "32"
        case .step(let c) where c.to == .failed: code = "31"
        case .step(let c) where c.to == .blocked: code = "33"
        case .notice: code = "33"
        case .runFinished(let r) where !r.problems.isEmpty: code = "1"
        default: return lines
        }
        return lines.map { "\u{1B}[\(code)m\($0)\u{1B}[0m" }
    }

    /// `try?`: a terminal that went away must not stop the run (FileHandle.write(_:) traps).
    private func write(_ text: String) { try? handle.write(contentsOf: Data(text.utf8)) }

    /// Columns and rows of the terminal, asked at every frame so a resize takes effect at once.
    private func size() -> (Int, Int) {
        var width = options.width ?? 100
        var rows = options.rows ?? 24
        #if canImport(Glibc)
        var ws = winsize()
        if ioctl(handle.fileDescriptor, UInt(TIOCGWINSZ), &ws) == 0 {
            if options.width == nil, ws.ws_col > 0 { width = Int(ws.ws_col) }
            if options.rows == nil, ws.ws_row > 0 { rows = Int(ws.ws_row) }
        }
        #endif
        return (width, rows)
    }
}
