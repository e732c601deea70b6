#ifndef CNNKIT_HDF5_DRIVER_H
#define CNNKIT_HDF5_DRIVER_H
#include <hdf5.h>
#include <stddef.h>

/// CNNKit's read-only HDF5 file driver: POSIX `pread` like libhdf5's default `sec2` driver, plus one check of
/// every block it reads that is a global heap collection (the `GCOL` blocks holding variable-length strings):
/// the collection's object list must walk to its end with every object taking at least one byte and staying
/// inside the collection. libhdf5 1.10's own walk (`H5HG__cache_heap_deserialize`) never ends on a free-space
/// object of size 0 and reads past the collection for an object that claims more bytes than it has; such a
/// block is refused here, before libhdf5 parses it, as a failed read whose error (on the HDF5 error stack)
/// says what is wrong. See Schemas/hdf5-layout.md, "Reading rules".

/// The driver's identifier, registered with libhdf5 on first use (call with libhdf5 serialised); negative when
/// registering fails.
hid_t cnnkit_h5_checked_driver(void);

/// Makes `fapl` (a file access property list) use the driver. Returns what `H5Pset_driver` returns.
herr_t cnnkit_h5_use_checked_driver(hid_t fapl);

/// The check itself, on a block of `size` bytes read from the file at byte `address`: 0 when the block is not
/// a complete global heap collection (version 1) or its object list is sound, -1 when it is damaged, with
/// the reason written to `reason` (at most `capacity` bytes, NUL-terminated). `length_size` is the file's
/// size of lengths (superblock; 8 unless the file says otherwise); blocks of files with lengths other than
/// 2, 4 or 8 bytes are not checked.
int cnnkit_h5_check_global_heap(const unsigned char *block, size_t size, unsigned long long address,
                                unsigned length_size, char *reason, size_t capacity);

/// CNNKit's descriptor driver, for writing: the file is an open descriptor `fd` (read-write) rather than a
/// name, so that libhdf5 can create a file in an unnamed temporary (`O_TMPFILE`), which a `kill -9` cannot
/// leave behind. I/O is `pread`/`pwrite` as libhdf5's default `sec2` driver does it, with the same features, so
/// the bytes are those sec2 writes. The driver works on its own duplicate of `fd` (closed with the file); `fd`
/// itself stays open. Makes `fapl` use it; returns what `H5Pset_driver` returns.
herr_t cnnkit_h5_use_descriptor_driver(hid_t fapl, int fd);

#endif
