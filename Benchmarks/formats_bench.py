#!/usr/bin/env python3
"""h5py and safetensors on the exact tensors cnnz-bench exported (Benchmarks/README.md, "File formats").

Usage: formats_bench.py MANIFEST.json [MANIFEST.json ...] [--runs 3] [--small-runs 11] [--single-above 1.0]

Each manifest (written by cnnz-bench as DIR/<model>/manifest.json) names one .npy file per tensor, float32
little-endian, holding the values the Swift side wrote. For each model this times, on those arrays:

- h5py, chunked, compression="gzip", compression_opts=4, shuffle=True (chunks of at most 1 MiB, the shape
  our HDF5 writer picks: the outer axes halved until the chunk fits);
- h5py, contiguous (no filters), the reference for our contiguous HDF5 writer;
- safetensors.numpy save_file / load_file;

and prints one JSON line per (model, format) on standard output, in cnnz-bench's shape. Writes end with
os.fsync of the file (our writers fsync too). Reads are timed warm (right after writing, the pages are in
the page cache), then once cold after posix_fadvise(DONTNEED) drops the file's pages. Every read is compared
with the arrays bit for bit. Files are deleted once measured.
"""
import argparse
import json
import os
import statistics
import sys
import time

import h5py
import numpy as np
import safetensors
from safetensors.numpy import load_file, save_file


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def evict(path):
    """Drops the file's (clean) pages from the page cache so that the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure(body, args, keep=None, prepare=None):
    """Median of --runs runs; of --small-runs when the first run is under 10 ms; one run when it is over
    --single-above seconds. `prepare` runs before each run and the last result goes to `keep`, both outside
    the timed region. Returns the median wall
    time, the median process CPU time (all threads, user + system) and the number of runs."""
    times, cpus, target = [], [], args.runs
    while len(times) < target:
        if prepare is not None:
            prepare()
        cpu = time.process_time()
        start = time.perf_counter()
        result = body()
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        if keep is not None:
            keep(result)
        result = None
        if len(times) == 1 and times[0] > args.single_above:
            break
        if len(times) == 1 and times[0] < 0.01:
            target = max(args.runs, args.small_runs)
    return statistics.median(times), statistics.median(cpus), len(times)


def chunk_shape(shape, element_size=4, limit=1 << 20):
    """HDF5Sink.chunkShape: the dataset's shape with the outer axes halved until the chunk is <= 1 MiB."""
    chunk, axis = list(shape), 0
    while axis < len(chunk) and int(np.prod(chunk)) * element_size > limit:
        if chunk[axis] > 1:
            chunk[axis] = (chunk[axis] + 1) // 2
        else:
            axis += 1
    return tuple(chunk)


def h5_write(path, arrays, gzip):
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            if gzip and a.ndim > 0 and a.size > 0:
                f.create_dataset(name, data=a, chunks=chunk_shape(a.shape), compression="gzip",
                                 compression_opts=4, shuffle=True)
            else:
                f.create_dataset(name, data=a)
    fsync_path(path)


def h5_read(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def st_write(path, arrays):
    save_file(arrays, path)
    fsync_path(path)


def same(read, arrays):
    return read.keys() == arrays.keys() and all(
        read[k].dtype == arrays[k].dtype and read[k].shape == arrays[k].shape
        and read[k].tobytes() == arrays[k].tobytes() for k in arrays)


def bench(model, system, fmt, variant, path, arrays, payload, args, write, read, note=None):
    load = load_average()
    # Every timed write creates a new file, as in cnnz-bench.
    w, w_cpu, w_runs = measure(write, args, prepare=lambda: os.path.exists(path) and os.unlink(path))
    last = {}
    r, r_cpu, r_runs = measure(read, args, keep=lambda x: last.__setitem__("doc", x))
    verified = same(last.pop("doc"), arrays)
    evict(path)
    start = time.perf_counter()
    read()
    cold = time.perf_counter() - start
    size = os.path.getsize(path)
    os.unlink(path)
    line = {"model": model, "system": system, "format": fmt, "variant": variant, "size": size, "payload": payload,
            "write_s": w, "write_cpu_s": w_cpu, "write_runs": w_runs, "read_s": r, "read_cpu_s": r_cpu,
            "read_runs": r_runs, "cold_read_s": cold,
            "verified": verified, "load": load}
    if note:
        line["note"] = note
    print(json.dumps(line, sort_keys=True), flush=True)
    print(f"formats_bench: {model} {fmt} {variant}: {size} bytes, write {w:.4f} s, read {r:.4f} s, cold {cold:.4f} s, "
          f"verified {verified}", file=sys.stderr)


def run(manifest_path, args):
    folder = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path) as f:
        manifest = json.load(f)
    model = manifest["model"]
    arrays = {}
    for t in manifest["tensors"]:
        a = np.load(os.path.join(folder, t["file"]))
        if a.dtype != np.dtype("<f4") or list(a.shape) != t["shape"]:
            sys.exit(f"formats_bench: {t['file']}: expected float32 {t['shape']}, found {a.dtype} {list(a.shape)}")
        arrays[t["name"]] = np.ascontiguousarray(a)
    payload = sum(a.nbytes for a in arrays.values())
    if payload != manifest["payload_bytes"]:
        sys.exit(f"formats_bench: {manifest_path}: {payload} bytes of tensors, the manifest says {manifest['payload_bytes']}")

    h5 = f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version})"
    gz = os.path.join(folder, "h5py-gzip4-shuffle.h5")
    bench(model, h5, "h5py", "gzip-4+shuffle", gz, arrays, payload, args,
          lambda: h5_write(gz, arrays, True), lambda: h5_read(gz), note="chunks of <= 1 MiB, as our HDF5 writer")
    contiguous = os.path.join(folder, "h5py-contiguous.h5")
    bench(model, h5, "h5py", "contiguous", contiguous, arrays, payload, args,
          lambda: h5_write(contiguous, arrays, False), lambda: h5_read(contiguous))
    st = os.path.join(folder, "model.safetensors")
    bench(model, f"safetensors {safetensors.__version__}", "safetensors", "numpy save_file/load_file", st, arrays,
          payload, args, lambda: st_write(st, arrays), lambda: load_file(st))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-runs", type=int, default=11)
    parser.add_argument("--single-above", type=float, default=1.0)
    args = parser.parse_args()
    for manifest in args.manifests:
        run(manifest, args)


if __name__ == "__main__":
    main()
