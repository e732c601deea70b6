#ifndef CNNKIT_CHDF5_SHIM_H
#define CNNKIT_CHDF5_SHIM_H
#include <hdf5.h>

// Macros Swift cannot import (they expand to H5OPEN/H5CHECK expressions), as functions.
static inline hid_t cnnkit_H5T_NATIVE_FLOAT(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline unsigned cnnkit_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned cnnkit_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
#endif
