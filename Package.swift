// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "CNNKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ConvNet", targets: ["ConvNet"]),
        .library(name: "ModelArchive", targets: ["ModelArchive"]),
        .executable(name: "cnnkit", targets: ["cnnkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C shims: the macros Swift cannot import become static inline functions.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Tensors, layers, network, losses, optimizers, training loop, RNG, IDX datasets.
        .target(name: "ConvNet", dependencies: ["CZlib"]),
        // The format-neutral model document, format detection, shared errors.
        .target(name: "ModelArchive", dependencies: ["ConvNet"]),

        .executableTarget(
            name: "cnnkit",
            dependencies: [
                "ConvNet", "ModelArchive",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "ConvNetTests", dependencies: ["ConvNet"]),
        .testTarget(name: "ModelArchiveTests", dependencies: ["ModelArchive"]),
    ],
    swiftLanguageModes: [.v6]
)
