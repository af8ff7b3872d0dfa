import ArgumentParser
public struct EvacCommand: AsyncParsableCommand {
    public init() {}
    public func run() async throws {}
}
