#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel for transparent huge pages for a large buffer that is about to be filled (a decoded tensor,
/// an in-memory file): one page fault per 2 MiB instead of one per 4 KiB, which on a virtual machine is most of
/// the cost of touching fresh memory. Only a hint (`madvise(MADV_HUGEPAGE)` on the buffer's whole 2 MiB pages;
/// nothing on other systems, or when the kernel refuses); the contents are unaffected.
enum HugePages {
    static let size = 2 << 20

    static func advise(_ start: UnsafeMutableRawPointer?, count: Int) {
        #if os(Linux)
        guard let start, count >= 4 * size else { return }
        let address = UInt(bitPattern: start)
        let first = (address + UInt(size) - 1) & ~UInt(size - 1)
        let end = (address + UInt(count)) & ~UInt(size - 1)
        guard end > first, let base = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(base, Int(end - first), MADV_HUGEPAGE)
        #endif
    }
}
