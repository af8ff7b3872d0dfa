import Foundation

/// A drain must outlive the shell that started it: a closed ssh session sends SIGHUP to the
/// session's processes and leaves their terminal dead (writes fail with EIO), and a pipe into
/// a `tee` that died with it fails with EPIPE. Runs ignore both signals; their output writes
/// drop what cannot be written (Console, LineWriter, TerminalObserver), and the journal, the
/// log file and the metrics file go on. libvirt also expects SIGPIPE to be ignored: a daemon
/// dying mid-call would otherwise kill the client.
enum Hangup {
    static func ignore() {
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }
}

/// Commands that change hosts: a hangup must not end them (a follower may end with its terminal).
protocol SurvivesHangup {}
extension ApplyCommand: SurvivesHangup {}
extension ResumeCommand: SurvivesHangup {}
extension RollbackCommand: SurvivesHangup {}
extension RollCommand: SurvivesHangup {}
