import ArgumentParser

@main
struct CNNKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnnkit",
        abstract: "Train small convolutional networks and keep their model files trustworthy.",
        subcommands: [Train.self, Evaluate.self, Predict.self, Convert.self, Inspect.self, Verify.self, Diff.self, Demo.self]
    )
}
