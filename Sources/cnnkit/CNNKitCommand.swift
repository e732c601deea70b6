import ArgumentParser

@main
struct CNNKitCommand: ParsableCommand {
    /// The release, as `cnnkit --version` prints it.
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "cnnkit",
        abstract: "Train small convolutional networks and keep their model files trustworthy.",
        version: version,
        subcommands: [Train.self, Evaluate.self, Predict.self, Convert.self, Inspect.self, Verify.self, Diff.self, Demo.self]
    )
}
