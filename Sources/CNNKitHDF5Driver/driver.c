// CNNKit's HDF5 file drivers (see include/cnnkit_hdf5_driver.h):
// - the checked driver, read-only: POSIX reads as libhdf5's sec2 driver does them, and a check of every global heap
//   collection before libhdf5 parses it;
// - the descriptor driver, for writing into an already open (possibly unnamed) file.

#include "cnnkit_hdf5_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/// One open file: libhdf5's public part first, as every driver's file struct begins.
typedef struct {
    H5FD_t pub;
    int fd;
    haddr_t eoa;
    haddr_t eof;
    dev_t device;
    ino_t inode;
    /// The file's size of lengths, from its superblock (8 until the superblock is read).
    unsigned length_size;
    /// The file's size of offsets (addresses), from its superblock (8 until the superblock is read).
    unsigned offset_size;
    /// The addresses of the version 1 object header continuation chunks seen so far (they are read as object
    /// header blocks too, and are not headers); `continuations_off` when they could not be recorded.
    unsigned long long *continuations;
    size_t continuation_count, continuation_capacity;
    int continuations_off;
} cnnkit_file_t;

/// The largest single `pread`, as sec2 limits it.
static const size_t max_io_bytes = (size_t)1 << 30;

static void push_error(hid_t minor, const char *function, const char *message) {
    H5Epush2(H5E_DEFAULT, __FILE__, function, __LINE__, H5E_ERR_CLS_g, H5E_VFL_g, minor, "%s", message);
}

static void push_errno(hid_t minor, const char *function, const char *what) {
    char message[256];
    snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
    push_error(minor, function, message);
}

// MARK: The check of a global heap collection

static unsigned long long decode_length(const unsigned char *p, unsigned length_size) {
    unsigned long long value = 0;
    for (unsigned i = length_size; i > 0; i--) value = (value << 8) | p[i - 1];
    return value;
}

int cnnkit_h5_check_global_heap(const unsigned char *block, size_t size, unsigned long long address,
                                unsigned length_size, char *reason, size_t capacity) {
    if (length_size != 2 && length_size != 4 && length_size != 8) return 0;
    // Signature, version 1, three reserved bytes, the collection size.
    const size_t header = 8 + length_size;
    if (size < header || memcmp(block, "GCOL", 4) != 0 || block[4] != 1) return 0;
    const unsigned long long collection = decode_length(block + 8, length_size);
    // libhdf5 reads a collection in two steps (a first guess of 4096 bytes, then its size): check the read that
    // holds it whole. A collection smaller than its header has no objects to walk.
    if (collection > size || collection <= header) return 0;
    // Each object: index (2 bytes), reference count (2), reserved (4), size (a length), then its data padded to
    // 8 bytes. Index 0 is the free space, whose size already counts its header and is not padded.
    const size_t object_header = 8 + length_size;
    size_t offset = header;
    const size_t end = (size_t)collection;
    while (offset < end) {
        if (end - offset < object_header) break;  // too small for an object: free space, as libhdf5 takes it
        const unsigned index = (unsigned)block[offset] | ((unsigned)block[offset + 1] << 8);
        const unsigned long long object_size = decode_length(block + offset + 8, length_size);
        unsigned long long need;
        if (index > 0) {
            need = object_size > (unsigned long long)SIZE_MAX - 16 - object_header
                       ? (unsigned long long)SIZE_MAX
                       : object_header + ((object_size + 7) & ~7ULL);
        } else {
            need = object_size;
        }
        if (need == 0) {
            snprintf(reason, capacity,
                     "global heap collection at byte %llu is damaged: its free-space object at byte %llu has size 0 "
                     "(libhdf5 1.10 would read it forever)",
                     address, address + offset);
            return -1;
        }
        if (need > end - offset) {
            snprintf(reason, capacity,
                     "global heap collection at byte %llu is damaged: object %u at byte %llu claims %llu bytes, but "
                     "the collection of %llu bytes has %llu left",
                     address, index, address + offset, object_size, collection, (unsigned long long)(end - offset));
            return -1;
        }
        offset += (size_t)need;
    }
    return 0;
}

// MARK: The check of a version 1 object header's message count

static herr_t read_fully(cnnkit_file_t *file, const char *function, haddr_t addr, size_t size, void *buffer);

static int seen_continuation(const cnnkit_file_t *file, unsigned long long address) {
    for (size_t i = 0; i < file->continuation_count; i++) {
        if (file->continuations[i] == address) return 1;
    }
    return 0;
}

static void note_continuation(cnnkit_file_t *file, unsigned long long address) {
    if (file->continuations_off || seen_continuation(file, address)) return;
    if (file->continuation_count == file->continuation_capacity) {
        size_t capacity = file->continuation_capacity ? file->continuation_capacity * 2 : 64;
        unsigned long long *grown = capacity <= (1u << 20) ? realloc(file->continuations, capacity * sizeof *grown) : NULL;
        if (!grown) {
            file->continuations_off = 1;
            return;
        }
        file->continuations = grown;
        file->continuation_capacity = capacity;
    }
    file->continuations[file->continuation_count++] = address;
}

/// Counts the messages of one chunk (8-byte headers: type, size, flags, 3 reserved; then `size` bytes) and notes
/// its continuation messages (type 0x10: an address and a length) in `next`. Returns the count, or -1 when the
/// messages do not tile the chunk exactly (libhdf5 judges such a chunk itself).
static long count_chunk_messages(const cnnkit_file_t *file, const unsigned char *chunk, size_t size,
                                 unsigned long long *next, size_t *next_count, size_t next_capacity) {
    long count = 0;
    size_t offset = 0;
    while (offset < size) {
        if (size - offset < 8) return -1;
        const size_t length = (size_t)chunk[offset + 2] | ((size_t)chunk[offset + 3] << 8);
        const unsigned message = (unsigned)chunk[offset] | ((unsigned)chunk[offset + 1] << 8);
        if (length > size - offset - 8) return -1;
        if (message == 0x10 && length >= file->offset_size + file->length_size && *next_count + 2 <= next_capacity) {
            next[(*next_count)++] = decode_length(chunk + offset + 8, file->offset_size);
            next[(*next_count)++] = decode_length(chunk + offset + 8 + file->offset_size, file->length_size);
        }
        count++;
        offset += 8 + length;
    }
    return count;
}

/// A version 1 object header (prefix: version 1, reserved 0, message count, reference count, first chunk size,
/// 4 reserved bytes) must hold as many messages, over its first chunk and its continuation chunks, as its prefix
/// says. libhdf5 1.10 accepts a wrong count (it merges a run of damaged empty messages), libhdf5 1.14, and so h5py
/// and Keras, refuse it ("bad object header message count"). Checked on the read that holds the whole first
/// chunk; continuation chunks are read here. Blocks that are not a whole version 1 prefix and first chunk, and
/// headers whose messages do not tile their chunks (libhdf5 refuses those itself), pass.
static int check_object_header(cnnkit_file_t *file, const unsigned char *block, size_t size, haddr_t address,
                               char *reason, size_t capacity) {
    if (file->continuations_off || size < 16 || block[0] != 1 || block[1] != 0) return 0;
    if (file->offset_size < 2 || file->offset_size > 8 || file->length_size < 2 || file->length_size > 8) return 0;
    if (seen_continuation(file, address)) return 0;
    const unsigned expected = (unsigned)block[2] | ((unsigned)block[3] << 8);
    const size_t first = (size_t)decode_length(block + 8, 4);
    if (first > size - 16) return 0;  // a first guess shorter than the chunk: the whole read follows
    enum { pending_capacity = 512 };
    unsigned long long pending[pending_capacity];
    size_t pending_count = 0;
    long count = count_chunk_messages(file, block + 16, first, pending, &pending_count, pending_capacity);
    if (count < 0) return 0;
    // Continuation chunks, breadth first, at most 256 of at most 1 MiB each.
    size_t chunks = 0;
    for (size_t i = 0; i + 1 < pending_count; i += 2) {
        const unsigned long long at = pending[i], length = pending[i + 1];
        if (++chunks > 256 || length == 0 || length > (1u << 20) || at > file->eof || length > file->eof - at) return 0;
        note_continuation(file, at);
        unsigned char *chunk = malloc((size_t)length);
        if (!chunk) return 0;
        if (read_fully(file, NULL, (haddr_t)at, (size_t)length, chunk) < 0) {
            free(chunk);
            return 0;
        }
        const long more = count_chunk_messages(file, chunk, (size_t)length, pending, &pending_count, pending_capacity);
        free(chunk);
        if (more < 0) return 0;
        count += more;
    }
    if ((unsigned long)count != expected) {
        snprintf(reason, capacity,
                 "object header at byte %llu is damaged: its prefix counts %u messages, but its chunks hold %ld "
                 "(libhdf5 1.14 and h5py refuse it: bad object header message count)",
                 (unsigned long long)address, expected, count);
        return -1;
    }
    return 0;
}

// MARK: Driver callbacks

/// A file struct for the open descriptor `fd`, which it takes over (closed here on failure).
static H5FD_t *adopt(int fd, const char *function, const char *what) {
    struct stat info;
    if (fstat(fd, &info) != 0) {
        push_errno(H5E_BADFILE_g, function, what);
        close(fd);
        return NULL;
    }
    cnnkit_file_t *file = calloc(1, sizeof *file);
    if (!file) {
        push_error(H5E_CANTALLOC_g, function, "out of memory");
        close(fd);
        return NULL;
    }
    file->fd = fd;
    file->eof = (haddr_t)info.st_size;
    file->device = info.st_dev;
    file->inode = info.st_ino;
    file->length_size = 8;
    file->offset_size = 8;
    return &file->pub;
}

static H5FD_t *cnnkit_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)fapl;
    if (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_EXCL | H5F_ACC_CREAT)) {
        push_error(H5E_CANTOPENFILE_g, "cnnkit_open", "CNNKit's checked driver opens files read-only");
        return NULL;
    }
    if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF) {
        push_error(H5E_BADVALUE_g, "cnnkit_open", "invalid file name or address space");
        return NULL;
    }
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        push_errno(H5E_CANTOPENFILE_g, "cnnkit_open", name);
        return NULL;
    }
    return adopt(fd, "cnnkit_open", name);
}

static herr_t cnnkit_close(H5FD_t *pub) {
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    int failed = close(file->fd) != 0;
    free(file->continuations);
    free(file);
    if (failed) {
        push_errno(H5E_CANTCLOSEFILE_g, "cnnkit_close", "close");
        return -1;
    }
    return 0;
}

static int cnnkit_cmp(const H5FD_t *a, const H5FD_t *b) {
    const cnnkit_file_t *f1 = (const cnnkit_file_t *)a, *f2 = (const cnnkit_file_t *)b;
    if (f1->device != f2->device) return f1->device < f2->device ? -1 : 1;
    if (f1->inode != f2->inode) return f1->inode < f2->inode ? -1 : 1;
    return 0;
}

static herr_t cnnkit_query(const H5FD_t *pub, unsigned long *flags) {
    (void)pub;
    // As sec2 (the format on disk is the default driver's), without SWMR.
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static haddr_t cnnkit_get_eoa(const H5FD_t *pub, H5FD_mem_t type) {
    (void)type;
    return ((const cnnkit_file_t *)pub)->eoa;
}

static herr_t cnnkit_set_eoa(H5FD_t *pub, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((cnnkit_file_t *)pub)->eoa = addr;
    return 0;
}

static haddr_t cnnkit_get_eof(const H5FD_t *pub, H5FD_mem_t type) {
    (void)type;
    return ((const cnnkit_file_t *)pub)->eof;
}

static herr_t cnnkit_get_handle(H5FD_t *pub, hid_t fapl, void **handle) {
    (void)fapl;
    *handle = &((cnnkit_file_t *)pub)->fd;
    return 0;
}

/// Remembers the size of lengths from a superblock read (versions 0 and 1 store it at byte 14, 2 and 3 at 10).
static void note_superblock(cnnkit_file_t *file, const unsigned char *block, size_t size) {
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size < 16 || memcmp(block, signature, 8) != 0) return;
    const unsigned version = block[8];
    if (version <= 1) {
        file->offset_size = block[13];
        file->length_size = block[14];
    } else if (version <= 3) {
        file->offset_size = block[9];
        file->length_size = block[10];
    }
}

/// Whether `size` bytes at `addr` lie within what an `off_t` can address (and `addr` is defined).
static int in_file_range(haddr_t addr, size_t size) {
    return addr != HADDR_UNDEF && addr <= (haddr_t)INT64_MAX && size <= (size_t)INT64_MAX &&
        (haddr_t)size <= (haddr_t)INT64_MAX - addr;
}

/// Reads (`pread`) or writes (`pwrite`, when `writing`) `size` bytes at `addr` as sec2 does: in pieces of at most
/// 1 GiB, retried on EINTR; a read past the end of the file gives zeros, a write that makes no progress fails.
/// A failure is pushed on libhdf5's error stack as `function`'s, unless that is NULL. A write only reads `buffer`.
static herr_t transfer_fully(cnnkit_file_t *file, const char *function, haddr_t addr, size_t size, void *buffer, int writing) {
    if (!in_file_range(addr, size)) {
        if (function) push_error(H5E_OVERFLOW_g, function, "address overflow");
        return -1;
    }
    unsigned char *at = buffer;
    size_t left = size;
    off_t offset = (off_t)addr;
    while (left > 0) {
        size_t chunk = left < max_io_bytes ? left : max_io_bytes;
        ssize_t done;
        do {
            done = writing ? pwrite(file->fd, at, chunk, offset) : pread(file->fd, at, chunk, offset);
        } while (done < 0 && errno == EINTR);
        if (done == 0 && !writing) {  // past the end of the file: zeros, as sec2 gives
            memset(at, 0, left);
            break;
        }
        if (done <= 0) {
            if (function) {
                push_errno(writing ? H5E_WRITEERROR_g : H5E_READERROR_g, function,
                           done == 0 ? "pwrite wrote nothing" : writing ? "pwrite" : "pread");
            }
            return -1;
        }
        left -= (size_t)done;
        at += done;
        offset += done;
    }
    return 0;
}

static herr_t read_fully(cnnkit_file_t *file, const char *function, haddr_t addr, size_t size, void *buffer) {
    return transfer_fully(file, function, addr, size, buffer, 0);
}

static herr_t cnnkit_read(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    (void)dxpl;
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    if (read_fully(file, "cnnkit_read", addr, size, buffer) < 0) return -1;
    if (type == H5FD_MEM_SUPER) {
        note_superblock(file, buffer, size);
    } else if (type == H5FD_MEM_OHDR) {
        char reason[512];
        if (check_object_header(file, buffer, size, addr, reason, sizeof reason) != 0) {
            push_error(H5E_READERROR_g, "cnnkit_read", reason);
            return -1;
        }
    } else if (type == H5FD_MEM_DRAW || type == H5FD_MEM_GHEAP) {
        // libhdf5 reads global heap collections as raw data (H5F_block_read maps GHEAP to DRAW).
        char reason[512];
        if (cnnkit_h5_check_global_heap(buffer, size, (unsigned long long)addr, file->length_size, reason,
                                        sizeof reason) != 0) {
            push_error(H5E_READERROR_g, "cnnkit_read", reason);
            return -1;
        }
    }
    return 0;
}

static herr_t cnnkit_write(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    (void)pub; (void)type; (void)dxpl; (void)addr; (void)size; (void)buffer;
    push_error(H5E_WRITEERROR_g, "cnnkit_write", "CNNKit's checked driver is read-only");
    return -1;
}

static herr_t cnnkit_lock(H5FD_t *pub, hbool_t rw) {
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    if (flock(file->fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        if (errno == ENOSYS) return 0;  // a file system without locks, as sec2 lets pass when told to
        push_errno(H5E_CANTLOCKFILE_g, "cnnkit_lock", "unable to lock the file");
        return -1;
    }
    return 0;
}

static herr_t cnnkit_unlock(H5FD_t *pub) {
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    if (flock(file->fd, LOCK_UN) != 0 && errno != ENOSYS) {
        push_errno(H5E_CANTUNLOCKFILE_g, "cnnkit_unlock", "unable to unlock the file");
        return -1;
    }
    return 0;
}

static const H5FD_class_t cnnkit_driver_class = {
    "cnnkit_checked",        // name
    (haddr_t)INT64_MAX,      // maxaddr
    H5F_CLOSE_WEAK,          // fc_degree
    NULL,                    // terminate
    NULL,                    // sb_size
    NULL,                    // sb_encode
    NULL,                    // sb_decode
    0,                       // fapl_size
    NULL,                    // fapl_get
    NULL,                    // fapl_copy
    NULL,                    // fapl_free
    0,                       // dxpl_size
    NULL,                    // dxpl_copy
    NULL,                    // dxpl_free
    cnnkit_open,
    cnnkit_close,
    cnnkit_cmp,
    cnnkit_query,
    NULL,                    // get_type_map
    NULL,                    // alloc
    NULL,                    // free
    cnnkit_get_eoa,
    cnnkit_set_eoa,
    cnnkit_get_eof,
    cnnkit_get_handle,
    cnnkit_read,
    cnnkit_write,
    NULL,                    // flush
    NULL,                    // truncate
    cnnkit_lock,
    cnnkit_unlock,
    H5FD_FLMAP_DICHOTOMY,
};

static hid_t cnnkit_driver_id = -1;

hid_t cnnkit_h5_checked_driver(void) {
    if (cnnkit_driver_id < 0 || H5Iis_valid(cnnkit_driver_id) <= 0) {
        cnnkit_driver_id = H5FDregister(&cnnkit_driver_class);
    }
    return cnnkit_driver_id;
}

herr_t cnnkit_h5_use_checked_driver(hid_t fapl) {
    hid_t driver = cnnkit_h5_checked_driver();
    if (driver < 0) return -1;
    return H5Pset_driver(fapl, driver, NULL);
}

// MARK: The descriptor driver (writing)

/// What `cnnkit_h5_use_descriptor_driver` stores in the file access property list.
typedef struct {
    int fd;
} cnnkit_descriptor_info_t;

static H5FD_t *descriptor_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)name;
    if (maxaddr == 0 || maxaddr == HADDR_UNDEF) {
        push_error(H5E_BADVALUE_g, "cnnkit_descriptor_open", "invalid address space");
        return NULL;
    }
    const cnnkit_descriptor_info_t *info = H5Pget_driver_info(fapl);
    if (!info || info->fd < 0) {
        push_error(H5E_BADVALUE_g, "cnnkit_descriptor_open", "no file descriptor in the file access property list");
        return NULL;
    }
    // Its own descriptor, closed with the file; the caller's stays open for fsync and linkat.
    int fd = fcntl(info->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        push_errno(H5E_CANTOPENFILE_g, "cnnkit_descriptor_open", "dup");
        return NULL;
    }
    if ((flags & H5F_ACC_TRUNC) && ftruncate(fd, 0) != 0) {
        push_errno(H5E_CANTOPENFILE_g, "cnnkit_descriptor_open", "ftruncate");
        close(fd);
        return NULL;
    }
    return adopt(fd, "cnnkit_descriptor_open", "fstat");
}

static herr_t descriptor_query(const H5FD_t *pub, unsigned long *flags) {
    (void)pub;
    // sec2's features (the bytes written are the default driver's) except the POSIX-compatible handle: with it
    // libhdf5 would lstat and realpath the name, which for /proc/self/fd/N of an unnamed file names nothing.
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
    return 0;
}

static herr_t descriptor_read(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    (void)type; (void)dxpl;
    return read_fully((cnnkit_file_t *)pub, "cnnkit_descriptor_read", addr, size, buffer);
}

static herr_t descriptor_write(H5FD_t *pub, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    (void)type; (void)dxpl;
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    if (transfer_fully(file, "cnnkit_descriptor_write", addr, size, (void *)buffer, 1) < 0) return -1;
    if (addr + size > file->eof) file->eof = addr + size;
    return 0;
}

/// As sec2: the file ends where libhdf5's allocation ends.
static herr_t descriptor_truncate(H5FD_t *pub, hid_t dxpl, hbool_t closing) {
    (void)dxpl; (void)closing;
    cnnkit_file_t *file = (cnnkit_file_t *)pub;
    if (file->eoa == file->eof) return 0;
    if (file->eoa > (haddr_t)INT64_MAX || ftruncate(file->fd, (off_t)file->eoa) != 0) {
        push_errno(H5E_WRITEERROR_g, "cnnkit_descriptor_truncate", "ftruncate");
        return -1;
    }
    file->eof = file->eoa;
    return 0;
}

/// The checked driver's class with the descriptor driver's name, driver information and callbacks.
static H5FD_class_t descriptor_class(void) {
    H5FD_class_t class = cnnkit_driver_class;
    class.name = "cnnkit_descriptor";
    class.fapl_size = sizeof(cnnkit_descriptor_info_t);  // copied byte for byte
    class.open = descriptor_open;
    class.query = descriptor_query;
    class.read = descriptor_read;
    class.write = descriptor_write;
    class.truncate = descriptor_truncate;
    return class;
}

static hid_t cnnkit_descriptor_id = -1;

herr_t cnnkit_h5_use_descriptor_driver(hid_t fapl, int fd) {
    if (cnnkit_descriptor_id < 0 || H5Iis_valid(cnnkit_descriptor_id) <= 0) {
        static H5FD_class_t class;
        class = descriptor_class();
        cnnkit_descriptor_id = H5FDregister(&class);
    }
    if (cnnkit_descriptor_id < 0) return -1;
    cnnkit_descriptor_info_t info = {fd};
    return H5Pset_driver(fapl, cnnkit_descriptor_id, &info);
}
