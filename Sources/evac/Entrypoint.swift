import EvacCLI

@main
struct Entrypoint {
    static func main() async {
        await EvacCommand.runMain()
    }
}
