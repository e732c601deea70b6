import ArgumentParser
import Foundation

@main
struct CNNKitCommand: ParsableCommand {
    /// The release, as `cnnkit --version` prints it.
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "cnnkit",
        abstract: "Train small convolutional networks and keep their model files trustworthy.",
        version: version,
        subcommands: [Train.self, Evaluate.self, Predict.self, Convert.self, Inspect.self, Verify.self, Diff.self, ReportCommand.self, Show.self, Demo.self]
    )

    /// `cnnkit help NAME` for a NAME that is no subcommand is a usage error (exit 64); the argument parser
    /// would print the overview and exit 0. Everything else is the parser's.
    static func main() {
        containLibHDF5()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == HDF5Screen.command { HDF5Screen.runChild(Array(arguments.dropFirst())) }
        HDF5Screen.install()
        if arguments.first == "help", let name = arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) {
            let names = configuration.subcommands.map { $0._commandName }
            if !names.contains(name) {
                printError("help: no subcommand '\(name)'; the subcommands are \(names.joined(separator: ", "))")
                Foundation.exit(Exit.usage)
            }
        }
        main(nil)
    }
}
