#ifndef CNNKIT_BYTE_KERNELS_H
#define CNNKIT_BYTE_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// CNNKit's byte kernels for CNNZ: CRC-32 folding with carry-less multiplication, and the byte shuffle of
/// Schemas/cnnz.md section 5.3 in SIMD. Each function picks the x86-64 instructions at run time
/// (`__builtin_cpu_supports`) and falls back to portable C; results never depend on the path taken.

/// Advances the CRC-32 (ISO-HDLC, zlib's `crc32`) `*crc` over a prefix of `bytes` with PCLMULQDQ and returns
/// how many bytes it consumed: a multiple of 16 (0 when `count` < 64 or the CPU lacks PCLMULQDQ). The caller
/// finishes the rest with zlib's `crc32`.
size_t cnnkit_crc32_fold(uint32_t *crc, const uint8_t *bytes, size_t count);

/// Groups byte `j` of each of the `count` elements of `size` bytes at `src` into plane `j`:
/// `dst[j * count + i] = src[i * size + j]`. `src` and `dst` do not overlap.
void cnnkit_shuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t size);

/// The inverse of `cnnkit_shuffle`: `dst[i * size + j] = src[j * count + i]`.
void cnnkit_unshuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t size);

/// Unshuffles `count` bfloat16 values from their two planes (low bytes at `src`, high bytes at `src + count`)
/// straight into float32: `dst[i] = bits(src[count + i] << 24 | src[i] << 16)`, exact.
void cnnkit_unshuffle_bfloat16_to_float32(float *dst, const uint8_t *src, size_t count);
#endif
