import EvacLog
import EvacRun
import Foundation

/// What watches a run besides the display: the log (when on) and the metrics file (when asked).
enum RunObservers {
    static func compose(
        display: any RunObserver, metricsFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> any RunObserver {
        var all: [any RunObserver] = [display]
        if EvacLog.isEnabled { all.append(LogObserver()) }
        if let path = metricsFile ?? environment["EVAC_METRICS_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            var st = stat()
            if lstat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
                Console.error("warning: --metrics-file \(path) is not a regular file; no metrics are written\n")
            } else if !FileManager.default.fileExists(
                atPath: (path as NSString).deletingLastPathComponent.isEmpty
                    ? "." : (path as NSString).deletingLastPathComponent)
            {
                Console.error("warning: --metrics-file \(path): its directory does not exist; no metrics are written\n")
            }
            all.append(MetricsObserver(path: path))
        }
        return all.count == 1 ? display : FanOutObserver(all)
    }

    static func journal(_ j: any RunJournal) -> any RunJournal {
        EvacLog.isEnabled ? LoggingJournal(j) : j
    }

    /// Log lines go to standard error and standard error is the terminal the display is on.
    static var logsShareTerminal: Bool {
        EvacLog.writesToStandardError && isatty(STDERR_FILENO) == 1
    }
}
