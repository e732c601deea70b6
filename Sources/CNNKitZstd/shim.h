#ifndef CNNKIT_CZSTD_SHIM_H
#define CNNKIT_CZSTD_SHIM_H
#include <zstd.h>

/// ZSTD_CONTENTSIZE_UNKNOWN is a macro Swift does not import; this wraps it.
static inline unsigned long long cnnkit_zstd_contentsize_unknown(void) {
    return ZSTD_CONTENTSIZE_UNKNOWN;
}

/// ZSTD_CONTENTSIZE_ERROR is a macro Swift does not import; this wraps it.
static inline unsigned long long cnnkit_zstd_contentsize_error(void) {
    return ZSTD_CONTENTSIZE_ERROR;
}

/// ZSTD_BLOCKSIZE_MAX (128 KiB) is a macro Swift does not import; this wraps it.
static inline unsigned long long cnnkit_zstd_blocksize_max(void) {
    return ZSTD_BLOCKSIZE_MAX;
}
#endif
