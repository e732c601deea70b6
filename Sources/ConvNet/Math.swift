#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The few libm functions the library needs, behind names that do not clash with Foundation's overloads.
@inline(__always) func Foundation_log(_ x: Double) -> Double { log(x) }
@inline(__always) func Foundation_cos(_ x: Double) -> Double { cos(x) }
@inline(__always) func expf32(_ x: Float) -> Float { expf(x) }
@inline(__always) func logf32(_ x: Float) -> Float { logf(x) }
