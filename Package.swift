// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "CNNKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ConvNet", targets: ["ConvNet"]),
        .library(name: "ModelArchive", targets: ["ModelArchive"]),
        .library(name: "HDF5Format", targets: ["HDF5Format"]),
        .library(name: "KerasFormat", targets: ["KerasFormat"]),
        .library(name: "CNNZFormat", targets: ["CNNZFormat"]),
        .library(name: "ModelFiles", targets: ["ModelFiles"]),
        .library(name: "Verification", targets: ["Verification"]),
        .library(name: "Report", targets: ["Report"]),
        .executable(name: "cnnkit", targets: ["cnnkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The runtime of the ONNX types generated from onnx.proto (scripts/generate-onnx-proto.sh); only the
        // SwiftProtobuf library is linked, the protoc plugin is never built here.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation` (make docs); a build-time plugin only, nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C shims: the macros Swift cannot import become static inline functions.
        .systemLibrary(name: "CNNKitZlib", path: "Sources/CNNKitZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CNNKitZstd", path: "Sources/CNNKitZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        // CNNKit's read-only libhdf5 file driver: sec2's reads plus a check of each global heap collection.
        .target(name: "CNNKitHDF5Driver", dependencies: ["CHDF5"]),

        // CRC-32 folding (PCLMULQDQ) and the CNNZ byte shuffle in SIMD, chosen at run time, portable C fallback.
        .target(name: "CNNKitByteKernels"),

        // Tensors, layers, network, losses, optimizers, training loop, RNG (knows no files).
        .target(name: "ConvNet"),
        // The one zlib wrapper: deflate, inflate, gunzip, CRC-32.
        .target(name: "ZlibCoding", dependencies: ["CNNKitZlib", "CNNKitByteKernels"]),
        // The one libzstd wrapper: single-frame compression, bounded exact decompression (CNNZ's shuffle-zstd).
        .target(name: "ZstdCoding", dependencies: ["CNNKitZstd"]),
        // IDX and gzip reading: Fashion-MNIST as Debian installs it (inputs checked by ModelArchive's InputFile).
        .target(name: "Datasets", dependencies: ["ConvNet", "ModelArchive", "ZlibCoding"]),
        // The format-neutral model document, the tensor source and reader, the format protocol, shared errors.
        .target(name: "ModelArchive", dependencies: ["ConvNet", .product(name: "Crypto", package: "swift-crypto")]),
        // libhdf5 behind one lock and one call checker: owning handles, a reader with safety refusals, a writer.
        .target(name: "HDF5Format", dependencies: ["ConvNet", "ModelArchive", "CHDF5", "CNNKitHDF5Driver"]),
        // Everything Keras, on HDF5Format: legacy full-model .h5 with our /cnnkit group (whole and streamed),
        // Keras 3 .weights.h5, .keras zips and their config JSON.
        .target(name: "KerasFormat", dependencies: [
            "ConvNet", "ModelArchive", "HDF5Format", "ZipIntegrity", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        // Opening a zip for reading (npz, .keras, .pt) with the check of its local file headers against its central
        // directory, which ZIPFoundation leaves out.
        .target(name: "ZipIntegrity", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // The CNNZ reader/writer.
        .target(name: "CNNZFormat", dependencies: ["ConvNet", "ModelArchive", "ZlibCoding", "ZstdCoding", "CNNKitByteKernels"]),
        // libFuzzer target for every reader through ModelFiles.open + Verifier.verify, one mode per reader
        // (CNNKIT_FUZZ_FORMAT=h5|weights.h5|keras|safetensors|npz|pt|onnx|cnnz; cnnz also fuzzes the CNNZ module alone):
        // scripts/fuzz.sh, Documentation/fuzzing.md
        .executableTarget(name: "ModelFuzz", dependencies: ["ConvNet", "ModelArchive", "ModelFiles", "Verification", "CNNZFormat"]),
        // Formats people already hold, one module each.
        .target(name: "InteropSafetensors", dependencies: ["ConvNet", "ModelArchive"]),
        .target(name: "InteropNumPy", dependencies: ["ConvNet", "ModelArchive", "ZipIntegrity", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // ONNX export and import on the Swift types generated from onnx.proto (Generated/, from Proto/onnx.proto).
        .target(name: "InteropONNX", dependencies: ["ConvNet", "ModelArchive", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Proto"]),
        .target(name: "InteropPyTorch", dependencies: [
            "ConvNet", "ModelArchive", "ZipIntegrity", "ZlibCoding", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        // The list of formats, and the one load/save/convert path over them (the only module that knows them all).
        .target(name: "ModelFiles", dependencies: [
            "ConvNet", "ModelArchive", "HDF5Format", "KerasFormat", "CNNZFormat", "InteropSafetensors", "InteropNumPy", "InteropONNX", "InteropPyTorch", "Verification",
        ]),
        // The verifier: structure, finiteness, probe reruns, comparisons between models.
        .target(name: "Verification", dependencies: ["ConvNet", "ModelArchive"]),
        // The report of a model (self-contained HTML) and its single pictures (PNG): cnnkit report, cnnkit show.
        .target(name: "Report", dependencies: ["ConvNet", "ModelArchive", "Verification", "ZlibCoding"]),

        .executableTarget(
            name: "cnnkit",
            dependencies: [
                "ConvNet", "Datasets", "ModelArchive", "ModelFiles", "Verification", "InteropNumPy", "HDF5Format", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The README's "Use it as a library" example, built and run by make test.
        .executableTarget(name: "library-tour", dependencies: ["ConvNet", "Datasets", "ModelArchive", "ModelFiles", "Verification"], path: "Examples/LibraryTour"),
        // Throughput benchmark of the network library (make bench).
        .executableTarget(name: "cnnkit-bench", dependencies: ["ConvNet", "Datasets"], path: "Benchmarks/cnnkit-bench"),
        .executableTarget(name: "cnnz-bench", dependencies: ["ConvNet", "Datasets", "ModelArchive", "CNNZFormat", "HDF5Format", "KerasFormat", "InteropNumPy"], path: "Benchmarks/cnnz-bench"),

        // Random documents, paths and Keras fixture expectations shared by the format test targets.
        .target(name: "CNNKitTestSupport", dependencies: ["ConvNet", "ModelArchive"], path: "Tests/Support"),

        .testTarget(name: "ConvNetTests", dependencies: ["ConvNet", "Datasets"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"]),
        .testTarget(name: "ModelArchiveTests", dependencies: ["ConvNet", "ModelArchive", "CNNKitTestSupport"]),
        .testTarget(name: "HDF5FormatTests", dependencies: ["HDF5Format", "CHDF5", "CNNKitHDF5Driver", "ConvNet", "ModelArchive", "CNNKitTestSupport"]),
        .testTarget(name: "CNNZFormatTests", dependencies: ["ConvNet", "ModelArchive", "CNNZFormat", "ZlibCoding", "ZstdCoding"]),
        .testTarget(name: "InteropFormatsTests", dependencies: [
            "ConvNet", "ModelArchive", "InteropSafetensors", "InteropNumPy", "InteropONNX", "InteropPyTorch", "CNNKitTestSupport",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .testTarget(name: "KerasFormatTests", dependencies: [
            "KerasFormat", "HDF5Format", "CHDF5", "ConvNet", "ModelArchive", "CNNKitTestSupport",
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        .testTarget(name: "ModelFilesTests", dependencies: [
            "ConvNet", "ModelArchive", "ModelFiles", "HDF5Format", "KerasFormat", "CNNZFormat", "InteropSafetensors", "InteropNumPy", "InteropONNX", "Verification", "CNNKitTestSupport",
        ]),
        .testTarget(name: "ReportTests", dependencies: ["ConvNet", "ModelArchive", "Report", "ZlibCoding"]),
        .testTarget(name: "VerificationTests", dependencies: ["ConvNet", "ModelArchive", "Verification", "CNNKitTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
