#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What kind of file a `stat` mode describes, for messages.
public enum FileKind {
    /// "a FIFO (named pipe)", "a character device", "a block device", "a socket", "a folder", "a symbolic link",
    /// "a regular file".
    public static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a folder"
        case S_IFLNK: "a symbolic link"
        case S_IFREG: "a regular file"
        default: "a file of unknown kind"
        }
    }
}
