#include "cnnkit_byte_kernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void shuffle_scalar(uint8_t *dst, const uint8_t *src, size_t first, size_t count, size_t size) {
    for (size_t j = 0; j < size; j++)
        for (size_t i = first; i < count; i++) dst[j * count + i] = src[i * size + j];
}

static void unshuffle_scalar(uint8_t *dst, const uint8_t *src, size_t first, size_t count, size_t size) {
    for (size_t i = first; i < count; i++)
        for (size_t j = 0; j < size; j++) dst[i * size + j] = src[j * count + i];
}

#if defined(__x86_64__)
// 16 elements per step: byte-gather each 16-byte lane into planes (PSHUFB), then a transpose of 32-bit (float32)
// or 64-bit (16-bit types) groups. Unaligned loads and stores throughout.
__attribute__((target("ssse3")))
static size_t shuffle4_ssse3(uint8_t *dst, const uint8_t *src, size_t count) {
    const __m128i gather = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const uint8_t *s = src + 4 * i;
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)s), gather);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16)), gather);
        __m128i c = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 32)), gather);
        __m128i d = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 48)), gather);
        __m128i t0 = _mm_unpacklo_epi32(a, b), t1 = _mm_unpackhi_epi32(a, b);
        __m128i t2 = _mm_unpacklo_epi32(c, d), t3 = _mm_unpackhi_epi32(c, d);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_unpacklo_epi64(t0, t2));
        _mm_storeu_si128((__m128i *)(dst + count + i), _mm_unpackhi_epi64(t0, t2));
        _mm_storeu_si128((__m128i *)(dst + 2 * count + i), _mm_unpacklo_epi64(t1, t3));
        _mm_storeu_si128((__m128i *)(dst + 3 * count + i), _mm_unpackhi_epi64(t1, t3));
    }
    return i;
}

__attribute__((target("ssse3")))
static size_t shuffle2_ssse3(uint8_t *dst, const uint8_t *src, size_t count) {
    const __m128i gather = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const uint8_t *s = src + 2 * i;
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)s), gather);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(s + 16)), gather);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_unpacklo_epi64(a, b));
        _mm_storeu_si128((__m128i *)(dst + count + i), _mm_unpackhi_epi64(a, b));
    }
    return i;
}

// SSE2 (every x86-64): interleave the planes back with byte and 16-bit unpacks.
static size_t unshuffle4_sse2(uint8_t *dst, const uint8_t *src, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i p0 = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i p1 = _mm_loadu_si128((const __m128i *)(src + count + i));
        __m128i p2 = _mm_loadu_si128((const __m128i *)(src + 2 * count + i));
        __m128i p3 = _mm_loadu_si128((const __m128i *)(src + 3 * count + i));
        __m128i l01 = _mm_unpacklo_epi8(p0, p1), h01 = _mm_unpackhi_epi8(p0, p1);
        __m128i l23 = _mm_unpacklo_epi8(p2, p3), h23 = _mm_unpackhi_epi8(p2, p3);
        uint8_t *d = dst + 4 * i;
        _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(l01, l23));
        _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(l01, l23));
        _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(h01, h23));
        _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(h01, h23));
    }
    return i;
}

static size_t unshuffle2_sse2(uint8_t *dst, const uint8_t *src, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i p0 = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i p1 = _mm_loadu_si128((const __m128i *)(src + count + i));
        _mm_storeu_si128((__m128i *)(dst + 2 * i), _mm_unpacklo_epi8(p0, p1));
        _mm_storeu_si128((__m128i *)(dst + 2 * i + 16), _mm_unpackhi_epi8(p0, p1));
    }
    return i;
}
#endif

void cnnkit_shuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t size) {
    if (size <= 1) {
        if (count > 0) memcpy(dst, src, count * size);
        return;
    }
    size_t done = 0;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("ssse3")) {
        if (size == 4) done = shuffle4_ssse3(dst, src, count);
        else if (size == 2) done = shuffle2_ssse3(dst, src, count);
    }
#endif
    shuffle_scalar(dst, src, done, count, size);
}

void cnnkit_unshuffle(uint8_t *dst, const uint8_t *src, size_t count, size_t size) {
    if (size <= 1) {
        if (count > 0) memcpy(dst, src, count * size);
        return;
    }
    size_t done = 0;
#if defined(__x86_64__)
    if (size == 4) done = unshuffle4_sse2(dst, src, count);
    else if (size == 2) done = unshuffle2_sse2(dst, src, count);
#endif
    unshuffle_scalar(dst, src, done, count, size);
}

void cnnkit_unshuffle_bfloat16_to_float32(float *dst, const uint8_t *src, size_t count) {
    size_t i = 0;
#if defined(__x86_64__)
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= count; i += 16) {
        __m128i p0 = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i p1 = _mm_loadu_si128((const __m128i *)(src + count + i));
        __m128i l = _mm_unpacklo_epi8(p0, p1), h = _mm_unpackhi_epi8(p0, p1);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_unpacklo_epi16(zero, l));
        _mm_storeu_si128((__m128i *)(dst + i + 4), _mm_unpackhi_epi16(zero, l));
        _mm_storeu_si128((__m128i *)(dst + i + 8), _mm_unpacklo_epi16(zero, h));
        _mm_storeu_si128((__m128i *)(dst + i + 12), _mm_unpackhi_epi16(zero, h));
    }
#endif
    for (; i < count; i++) {
        uint32_t bits = (uint32_t)src[count + i] << 24 | (uint32_t)src[i] << 16;
        memcpy(dst + i, &bits, 4);
    }
}
