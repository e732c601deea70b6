import ArgumentParser
import ConvNet
import Datasets
import Foundation
import ModelArchive

/// The sysexits codes of `Documentation/cli.md` ("Exit codes").
enum Exit {
    static let checksFailed: Int32 = 1
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let software: Int32 = 70
    static let cannotCreate: Int32 = 73
    static let ioError: Int32 = 74
    static let interrupted: Int32 = 130
    /// SIGTERM (a scheduler's notice before preemption) during `train`, after the checkpoint: 128 + 15.
    static let terminated: Int32 = 143
}

/// An error the command line itself finds after parsing, with its exit code and one-line message.
struct CLIError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { message }

    /// A request that cannot work (exit 64).
    static func usage(_ message: String) -> CLIError { CLIError(code: Exit.usage, message: message) }
}

/// Prints one line on stderr.
func printError(_ message: String) {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    FileHandle.standardError.write(Data(("cnnkit: " + line + "\n").utf8))
}

/// Prints to stderr without a prefix (progress).
func printProgress(_ message: String) {
    FileHandle.standardError.write(Data(message.utf8))
}

/// An error no library module throws, raised only by the `CNNKIT_FAILPOINT=internal` failpoint so that tests
/// can reach the internal-error path (exit 70) on purpose.
struct InjectedFailure: Error, CustomStringConvertible {
    var description: String { "failpoint CNNKIT_FAILPOINT=internal was set" }
}

/// Runs a command body, turning library errors into one line on stderr and the exit code they map to.
///
/// First comes the input check every command makes before it loads anything: each file it will read (`paths`:
/// models, images, architecture, resumed model; nil ones are skipped) must be a regular file, following symbolic
/// links (ModelArchive's ``InputFile``). A FIFO, device, socket, folder or symbolic link loop is refused at once
/// (exit 66) with a message naming the file and what it is, instead of blocking on it. The readers check again
/// when they open each file.
func reportingErrors(checking paths: String?..., body: () throws -> Void) throws {
    do {
        if ProcessInfo.processInfo.environment["CNNKIT_FAILPOINT"] == "internal" { throw InjectedFailure() }
        for case let path? in paths { try InputFile.check(path) }
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        let (code, message) = classify(error)
        printError(message)
        throw ExitCode(code)
    }
}

func classify(_ error: Error) -> (Int32, String) {
    switch error {
    case let e as CLIError:
        return (e.code, e.message)
    case let e as DatasetError:
        switch e {
        case .datasetMissing, .datasetUnreadable: return (Exit.noInput, e.description)
        case .datasetCorrupt: return (Exit.dataError, e.description)
        }
    case let e as ConvNetError:
        switch e {
        case .invalidTrainingConfiguration: return (Exit.usage, e.description)
        default: return (Exit.dataError, e.description)
        }
    case let e as ModelFileError:
        switch e.category {
        case .missingInput: return (Exit.noInput, e.description)
        case .invalidInput: return (Exit.dataError, e.description)
        case .unsupported: return (Exit.usage, e.description)
        case .cannotCreateOutput: return (Exit.cannotCreate, e.description)
        case .writeFailed: return (Exit.ioError, e.description)
        }
    case let e as CustomStringConvertible:
        return (Exit.software, "internal error: \(e.description)")
    default:
        return (Exit.software, "internal error: \(error)")
    }
}
