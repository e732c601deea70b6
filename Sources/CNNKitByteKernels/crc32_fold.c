#include "cnnkit_byte_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Folding constants of the reflected CRC-32 polynomial 0xEDB88320 (Intel, "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ", 2009; the same values as Linux's arch/x86/crypto/crc32-pclmul_asm.S):
// x^(4*128+32) mod P and x^(4*128-32) mod P (fold by 64 bytes), x^(128+32) and x^(128-32) (fold by 16), x^64,
// then P and mu = x^64 / P for the Barrett reduction, all bit-reflected.
#define K1 0x154442bd4ULL
#define K2 0x1c6e41596ULL
#define K3 0x1751997d0ULL
#define K4 0x0ccaa009eULL
#define K5 0x163cd6124ULL
#define POLY 0x1db710641ULL
#define MU 0x1f7011641ULL

__attribute__((target("pclmul,sse4.1")))
static uint32_t fold(uint32_t crc, const uint8_t *p, size_t n) {
    // n >= 64, a multiple of 16; crc is the running (inverted) register.
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    p += 64;
    n -= 64;
    const __m128i k12 = _mm_set_epi64x((long long)K2, (long long)K1);
    while (n >= 64) {
        __m128i h1 = _mm_clmulepi64_si128(x1, k12, 0x11), h2 = _mm_clmulepi64_si128(x2, k12, 0x11);
        __m128i h3 = _mm_clmulepi64_si128(x3, k12, 0x11), h4 = _mm_clmulepi64_si128(x4, k12, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k12, 0x00), h1), _mm_loadu_si128((const __m128i *)p));
        x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, k12, 0x00), h2), _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, k12, 0x00), h3), _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, k12, 0x00), h4), _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        n -= 64;
    }
    const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
#define FOLD16(acc, next) acc = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(acc, k34, 0x00), _mm_clmulepi64_si128(acc, k34, 0x11)), next)
    FOLD16(x1, x2);
    FOLD16(x1, x3);
    FOLD16(x1, x4);
    while (n >= 16) {
        FOLD16(x1, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        n -= 16;
    }
#undef FOLD16
    // 128 -> 64 bits (appending 32 zero bits), then 64 -> 32, then Barrett.
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i t = _mm_clmulepi64_si128(k34, x1, 0x01);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    __m128i x2b = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, _mm_set_epi64x(0, (long long)K5), 0x00);
    x1 = _mm_xor_si128(x1, x2b);
    const __m128i pu = _mm_set_epi64x((long long)MU, (long long)POLY);
    x2b = x1;
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, pu, 0x10);
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_clmulepi64_si128(x1, pu, 0x00);
    x1 = _mm_xor_si128(x1, x2b);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

size_t cnnkit_crc32_fold(uint32_t *crc, const uint8_t *bytes, size_t count) {
#if defined(__x86_64__)
    if (count < 64 || !__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1")) return 0;
    size_t n = count & ~(size_t)15;
    *crc = ~fold(~*crc, bytes, n);
    return n;
#else
    (void)crc; (void)bytes; (void)count;
    return 0;
#endif
}
