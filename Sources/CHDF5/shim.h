#ifndef CNNKIT_CHDF5_SHIM_H
#define CNNKIT_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

// Macros Swift cannot import (they expand to H5OPEN/H5CHECK expressions), as functions. Each calls H5open()
// first, as the macros do.

// Native memory types.
static inline hid_t cnnkit_H5T_NATIVE_FLOAT(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t cnnkit_H5T_NATIVE_DOUBLE(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t cnnkit_H5T_NATIVE_INT32(void) { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t cnnkit_H5T_NATIVE_INT64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t cnnkit_H5T_NATIVE_UINT64(void) { H5open(); return H5T_NATIVE_UINT64; }
static inline hid_t cnnkit_H5T_C_S1(void) { H5open(); return H5T_C_S1; }

// File types, little-endian as Keras and h5py write on x86 and ARM.
static inline hid_t cnnkit_H5T_IEEE_F32LE(void) { H5open(); return H5T_IEEE_F32LE; }
static inline hid_t cnnkit_H5T_IEEE_F64LE(void) { H5open(); return H5T_IEEE_F64LE; }
static inline hid_t cnnkit_H5T_STD_I32LE(void) { H5open(); return H5T_STD_I32LE; }
static inline hid_t cnnkit_H5T_STD_I64LE(void) { H5open(); return H5T_STD_I64LE; }
static inline hid_t cnnkit_H5T_STD_U64LE(void) { H5open(); return H5T_STD_U64LE; }

// Property list classes.
static inline hid_t cnnkit_H5P_FILE_ACCESS(void) { H5open(); return H5P_FILE_ACCESS; }
static inline hid_t cnnkit_H5P_FILE_CREATE(void) { H5open(); return H5P_FILE_CREATE; }
static inline hid_t cnnkit_H5P_GROUP_CREATE(void) { H5open(); return H5P_GROUP_CREATE; }
static inline hid_t cnnkit_H5P_DATASET_CREATE(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t cnnkit_H5P_ATTRIBUTE_CREATE(void) { H5open(); return H5P_ATTRIBUTE_CREATE; }

// File access flags.
static inline unsigned cnnkit_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned cnnkit_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned cnnkit_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned cnnkit_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }

// Sizes and defaults.
static inline size_t cnnkit_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t cnnkit_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t cnnkit_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t cnnkit_H5E_DEFAULT(void) { return H5E_DEFAULT; }

/// Turns off HDF5's automatic printing of error stacks for the calling thread (the stack is per thread in
/// thread-safe builds).
static inline void cnnkit_h5_silence(void) { H5open(); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// The type of the link `name` in `loc` (H5L_TYPE_HARD, H5L_TYPE_SOFT, H5L_TYPE_EXTERNAL, ...), or -1 when
/// H5Lget_info fails. Calls H5Lget_info.
static inline int cnnkit_h5_link_type(hid_t loc, const char *name) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return (int)info.type;
}

struct cnnkit_h5_error_buffer { char *text; size_t capacity; size_t used; int count; };

static inline herr_t cnnkit_h5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    struct cnnkit_h5_error_buffer *buffer = (struct cnnkit_h5_error_buffer *)data;
    (void)n;
    if (buffer->used + 1 >= buffer->capacity || buffer->count >= 4) return 0;
    int written = snprintf(buffer->text + buffer->used, buffer->capacity - buffer->used, "%s%s(): %s",
                           buffer->count == 0 ? "" : "; ", err->func_name ? err->func_name : "?",
                           err->desc ? err->desc : "");
    if (written > 0) {
        size_t w = (size_t)written;
        buffer->used = buffer->used + w < buffer->capacity ? buffer->used + w : buffer->capacity - 1;
    }
    buffer->count += 1;
    return 0;
}

/// Writes the calling thread's HDF5 error stack, innermost first and at most four entries, into `text` as one
/// line, then clears the stack. Calls H5Ewalk2 and H5Eclear2.
static inline void cnnkit_h5_error_text(char *text, size_t capacity) {
    struct cnnkit_h5_error_buffer buffer = { text, capacity, 0, 0 };
    if (capacity == 0) return;
    text[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cnnkit_h5_error_walker, &buffer);
    H5Eclear2(H5E_DEFAULT);
}
#endif
