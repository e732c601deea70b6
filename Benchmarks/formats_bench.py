#!/usr/bin/env python3
"""h5py and safetensors on the exact tensors cnnz-bench exported (Benchmarks/README.md, "File formats").

Usage: formats_bench.py MANIFEST.json [MANIFEST.json ...] [--runs 3] [--small-runs 11] [--single-above 1.0]
                        [--cnnz-bench BIN] [--open-rounds 7]

Each manifest (written by cnnz-bench as DIR/<model>/manifest.json) names one .npy file per tensor, float32
little-endian, holding the values the Swift side wrote. For each model this times, on those arrays:

- h5py, chunked, compression="gzip", compression_opts=4, shuffle=True (chunks of at most 1 MiB, the shape
  our HDF5 writer picks: the outer axes halved until the chunk fits);
- h5py, contiguous (no filters), the reference for our contiguous HDF5 writer;
- safetensors.numpy save_file / load_file;

and prints one JSON line per (model, format) on standard output, in cnnz-bench's shape.

With --cnnz-bench (the cnnz-bench binary) and the raw CNNZ file cnnz-bench left as DIR/<model>/open.cnnz, it
also times "open the file and get every tensor" side by side, in alternating rounds: safetensors'
`safe_open(framework="numpy")` + `get_tensor` of every tensor in this process, then `cnnz-bench --open-read`
(CNNZ mapped views with every chunk CRC checked at open, and CNNZ pread copies with every CRC checked, timed
inside that process). One `open-read` line carries the medians and the median of the per-round ratios. Writes end with
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
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
import subprocess


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


def digest(a):
    """cnnz-bench's digest: FNV-1a of every 64th byte and the last one."""
    b = a.tobytes()
    h = 0xcbf29ce484222325
    for x in b[::64]:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    if b:
        h = ((h ^ b[-1]) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return str(h)


def open_read(model, folder, arrays, payload, args):
    """Side-by-side rounds: safetensors safe_open + get_tensor of every tensor, then cnnz-bench --open-read."""
    cnnz = os.path.join(folder, "open.cnnz")
    st = os.path.join(folder, "open.safetensors")
    st_write(st, arrays)
    load = load_average()

    def st_read():
        with safe_open(st, framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}

    st_read()  # warm-up: the file's pages and the library
    st_times, st_cpus, rounds, read = [], [], [], None
    for _ in range(args.open_rounds):
        cpu, start = time.process_time(), time.perf_counter()
        read = st_read()
        st_times.append(time.perf_counter() - start)
        st_cpus.append(time.process_time() - cpu)
        out = subprocess.run([args.cnnz_bench, "--open-read", cnnz], capture_output=True, text=True, check=True)
        rounds.append(json.loads(out.stdout))
    verified = same(read, arrays) and all(
        r["digests"] == [digest(a) for a in arrays.values()] and r["copies_agree"] and r["borrowed"] for r in rounds)
    read = None
    os.unlink(st)
    med = statistics.median
    line = {"model": model, "system": f"safetensors {safetensors.__version__} / cnnkit", "format": "open-read",
            "variant": "side by side", "payload": payload, "rounds": len(rounds), "load": load,
            "load_after": load_average(), "verified": verified,
            "safetensors_s": med(st_times), "safetensors_cpu_s": med(st_cpus),
            "cnnz_views_s": med(r["views_s"] for r in rounds), "cnnz_views_cpu_s": med(r["views_cpu_s"] for r in rounds),
            "cnnz_copies_s": med(r["copies_s"] for r in rounds), "cnnz_copies_cpu_s": med(r["copies_cpu_s"] for r in rounds),
            # Per round: CNNZ time / safetensors time (lower is better), then the median.
            "views_ratio": med(r["views_s"] / t for r, t in zip(rounds, st_times)),
            "copies_ratio": med(r["copies_s"] / t for r, t in zip(rounds, st_times)),
            "views_cpu_ratio": med(r["views_cpu_s"] / t for r, t in zip(rounds, st_cpus)),
            "copies_cpu_ratio": med(r["copies_cpu_s"] / t for r, t in zip(rounds, st_cpus))}
    print(json.dumps(line, sort_keys=True), flush=True)
    print(f"formats_bench: {model} open-read: safetensors {line['safetensors_s']:.4f} s, cnnz views {line['cnnz_views_s']:.4f} s, "
          f"copies {line['cnnz_copies_s']:.4f} s, verified {verified}", file=sys.stderr)


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
    if args.cnnz_bench and os.path.exists(os.path.join(folder, "open.cnnz")):
        open_read(model, folder, arrays, payload, args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small-runs", type=int, default=11)
    parser.add_argument("--single-above", type=float, default=1.0)
    parser.add_argument("--cnnz-bench", help="the cnnz-bench binary, for the side-by-side open of open.cnnz")
    parser.add_argument("--open-rounds", type=int, default=7)
    args = parser.parse_args()
    for manifest in args.manifests:
        run(manifest, args)


if __name__ == "__main__":
    main()
