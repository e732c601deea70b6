#ifndef CNNKIT_CZLIB_SHIM_H
#define CNNKIT_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 is a macro; this wraps it for Swift.
static inline int cnnkit_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

/// inflateInit2 is a macro; this wraps it for Swift.
static inline int cnnkit_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
