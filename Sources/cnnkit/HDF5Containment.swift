import Foundation
import HDF5Format

/// Bounds every libhdf5 call of this process (`Documentation/cli.md`, "Robustness"): a call that runs longer than
/// the limit ends the process with one `cnnkit: FILE: libhdf5 did not finish reading within N s: ...` line on
/// stderr and exit 65 (74 while writing). Temporary outputs are removed first (``HDF5Library/removeOnStall(_:_:)``).
///
/// `CNNKIT_HDF5_TIME_LIMIT` overrides the limit (`SECONDS`, `SECONDS,SECONDS_PER_MIB` or `off`);
/// `CNNKIT_HDF5_DRIVER=sec2` reads through libhdf5's own driver instead of CNNKit's checked one (for diagnosis).
/// A value these do not take is a usage error (exit 64).
func containLibHDF5() {
    let environment = ProcessInfo.processInfo.environment
    var limit: HDF5Library.TimeLimit? = .standard
    if let text = environment["CNNKIT_HDF5_TIME_LIMIT"] {
        if text == "off" {
            limit = nil
        } else if let given = HDF5Library.TimeLimit(parsing: text) {
            limit = given
        } else {
            printError("CNNKIT_HDF5_TIME_LIMIT: expected SECONDS, SECONDS,SECONDS_PER_MIB (numbers of 0 or more) or off, found '\(text)'")
            exit(Exit.usage)
        }
    }
    switch environment["CNNKIT_HDF5_DRIVER"] {
    case nil, "checked": break
    case "sec2": HDF5Library.checksGlobalHeaps = false
    case let other?:
        printError("CNNKIT_HDF5_DRIVER: expected checked or sec2, found '\(other)'")
        exit(Exit.usage)
    }
    HDF5Library.onStall = { stall in printError(stall.description) }
    HDF5Library.timeLimit = limit
}
