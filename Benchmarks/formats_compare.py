#!/usr/bin/env python3
"""Table of file-format results from cnnz-bench and formats_bench.py, with ratios and the large-file speed targets.

Usage: formats_compare.py RESULTS.jsonl [RESULTS.jsonl ...]   (or - for standard input)

Reads the JSON lines both benchmarks print, and for each model prints every format's size, write and read
times and speeds (MB/s of float32 payload, MB = 10^6 bytes), then the ratios:

- CNNZ compressed vs h5py gzip-4+shuffle: size ratio (lower is better), write and decode (warm read) speed
  ratios (higher is better);
- CNNZ raw vs safetensors: read speed ratio; CNNZ raw vs a plain pread of the same bytes (the page-cache floor);
- our HDF5 vs h5py (contiguous vs contiguous, shuffle+deflate-4 vs gzip-4+shuffle): time ratios;
- CNNZ shuffle-zstd (the default codec of CNNZ 1.1): size vs raw and vs h5py gzip-4+shuffle, encode and decode
  MB/s in memory (`cnnz-memory` rows, 2 threads and 1), write speed vs h5py gzip-4+shuffle, bfloat16 size vs raw;
- opening a raw CNNZ file and getting every tensor (CRCs checked) vs safetensors `safe_open` + `get_tensor` of
  every tensor, in alternating rounds (`open-read` lines of formats_bench.py): CNNZ mapped views and CNNZ
  pread copies, each as the median of the per-round time ratios.

The targets (Benchmarks/README.md, "Speed targets", for large files) are judged on the synthetic model, the
shuffle-zstd targets on the normal model (N(0, 0.02) float32); the other models' ratios are shown for information. Exits 0 whatever the numbers; 1 when an input is missing, unparseable or lacks a
result the table needs. Needs only the standard library.
"""
import json
import sys

PAGE_CACHE_TOLERANCE = 1.25  # "loads at page-cache speed": CNNZ raw read <= 1.25x a plain pread of the bytes
HDF5_TOLERANCE = 1.25        # "HDF5 reads and writes within 1.25x of h5py"
TARGET_MODEL = "synthetic"
ZSTD_TARGET_MODEL = "normal"  # N(0, 0.02) float32: the distribution the shuffle-zstd targets are stated for
ZSTD_MAX_SIZE = 0.845         # shuffle-zstd <= 0.845x raw
ZSTD_ENCODE_MBS = 1000        # encode >= 1 GB/s with 2 threads
ZSTD_DECODE_MBS = 2500        # decode >= 2.5 GB/s with 2 threads
ZSTD_WRITE_VS_H5PY = 20       # >= 20x faster to write than h5py gzip-4+shuffle
ZSTD_BFLOAT16_MAX = 0.68      # bfloat16 shuffle-zstd <= 0.68x raw bfloat16
OPEN_TARGET_MODEL = "synthetic"  # "open a 256 MB raw CNNZ and read every tensor" vs safetensors safe_open + get_tensor


def fail(message):
    print(f"formats_compare: {message}", file=sys.stderr)
    sys.exit(1)


def load(paths):
    rows = []
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else open(path).read()
        except OSError as error:
            fail(f"{path}: {error.strerror}")
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                row["model"], row["format"], row["variant"], row["payload"]
            except (ValueError, KeyError, TypeError):
                fail(f"{path}:{number}: not a result line: {line[:80]}")
            rows.append(row)
    if not rows:
        fail("no results")
    return rows


def fmt_time(s):
    if s is None:
        return "-"
    if s < 0.01:
        return f"{s * 1000:.2f} ms"
    return f"{s:.3f} s"


def fmt_speed(payload, s):
    return "-" if not s else f"{payload / s / 1e6:,.0f}"


def fmt_size(n):
    return f"{n / 1e6:,.2f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def table(model, rows):
    payload = rows[0]["payload"]
    loads = sorted({r.get("load", "?") for r in rows})
    print(f"\n## {model}: {payload:,} bytes of float32 ({payload / 2**20:,.1f} MiB); load average during the run: "
          f"{loads[0]} .. {loads[-1]}")
    header = ["format", "variant", "size", "size/payload", "write", "write MB/s", "write cpu", "read (warm)",
              "read MB/s", "read cpu", "cold read", "cold MB/s", "runs w/r", "bitwise"]
    lines = []
    for r in rows:
        lines.append([
            r["format"], r["variant"], fmt_size(r["size"]) if r.get("size") is not None else "-",
            f"{r['size'] / payload:.4f}" if r.get("size") is not None else "-",
            fmt_time(r.get("write_s")), fmt_speed(payload, r.get("write_s")), fmt_time(r.get("write_cpu_s")),
            fmt_time(r.get("read_s")), fmt_speed(payload, r.get("read_s")), fmt_time(r.get("read_cpu_s")),
            fmt_time(r.get("cold_read_s")), fmt_speed(payload, r.get("cold_read_s")),
            f"{r.get('write_runs', '-')}/{r.get('read_runs', '-')}", "ok" if r.get("verified") else "DIFFERS",
        ])
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
    systems = sorted({r.get("system", "?") for r in rows})
    print("systems: " + "; ".join(systems))


def find(rows, fmt, variant):
    for r in rows:
        if r["format"] == fmt and r["variant"] == variant:
            return r
    return None


def cpu(a, b, what):
    """a's CPU time over b's for `what` (write or read), as text; for speeds pass (other, cnnz)."""
    x, y = a.get(f"{what}_cpu_s"), b.get(f"{what}_cpu_s")
    return f"{x / y:.2f}x" if x and y else "-"


def ratios(model, rows):
    """Prints the ratios and returns {target name: (met, text)}."""
    def need(fmt, variant):
        r = find(rows, fmt, variant)
        if r is None:
            fail(f"{model}: no result for {fmt} {variant}")
        return r

    h5gz = need("h5py", "gzip-4+shuffle")
    h5c = need("h5py", "contiguous")
    st = need("safetensors", "numpy save_file/load_file")
    raw = need("cnnz", "raw")
    raw_nocrc = find(rows, "cnnz", "raw, no chunk CRC")
    plain = need("plain", "write+fsync / pread")
    ours_c = need("hdf5", "contiguous")
    ours_gz = need("hdf5", "shuffle+deflate-4+fletcher32")

    print(f"\nratios ({model}); size: CNNZ / other (lower is better); speed: CNNZ / other (higher is better); "
          f"time: ours / other (lower is better); (cpu ...): the same ratio of process CPU time, less sensitive to "
          f"machine load")
    results = {}
    for variant in ("shuffle-zstd", "shuffle-deflate", "deflate"):
        c = need("cnnz", variant)
        size = c["size"] / h5gz["size"]
        write = h5gz["write_s"] / c["write_s"]
        decode = h5gz["read_s"] / c["read_s"]
        cold = h5gz["cold_read_s"] / c["cold_read_s"]
        print(f"  cnnz {variant} vs h5py gzip-4+shuffle: size {size:.3f}x, write speed {write:.2f}x "
              f"(cpu {cpu(h5gz, c, 'write')}), decode speed {decode:.2f}x (cpu {cpu(h5gz, c, 'read')}; cold {cold:.2f}x)")
        if variant == "shuffle-deflate":
            results["compressed CNNZ (shuffle-deflate) smaller than h5py gzip-4+shuffle"] = (
                size < 1, f"{size:.3f}x the size", None, None)
            decode_cpu = h5gz["read_cpu_s"] / c["read_cpu_s"]
            results["compressed CNNZ (shuffle-deflate) decodes faster than h5py gzip-4+shuffle"] = (
                decode > 1, f"{decode:.2f}x the speed", decode_cpu > 1, f"{decode_cpu:.2f}x")
    results.update(zstd_ratios(model, rows, raw, h5gz))
    r_st = st["read_s"] / raw["read_s"]
    r_st_cold = st["cold_read_s"] / raw["cold_read_s"]
    w_st = st["write_s"] / raw["write_s"]
    print(f"  cnnz raw vs safetensors: read speed {r_st:.2f}x (cpu {cpu(st, raw, 'read')}; cold {r_st_cold:.2f}x), "
          f"write speed {w_st:.2f}x (cpu {cpu(st, raw, 'write')}), "
          f"size {raw['size'] / st['size']:.4f}x")
    page = raw["read_s"] / plain["read_s"]
    extra = ""
    if raw_nocrc:
        extra = (f"; without chunk CRCs {raw_nocrc['read_s'] / plain['read_s']:.2f}x "
                 f"(cpu {cpu(raw_nocrc, plain, 'read')})")
    print(f"  cnnz raw read time vs plain pread of the same bytes: {page:.2f}x (cpu {cpu(raw, plain, 'read')}; "
          f"cold {raw['cold_read_s'] / plain['cold_read_s']:.2f}x){extra}")
    page_cpu = raw["read_cpu_s"] / plain["read_cpu_s"]
    results[f"raw CNNZ loads at page-cache speed (read <= {PAGE_CACHE_TOLERANCE}x plain pread)"] = (
        page <= PAGE_CACHE_TOLERANCE, f"{page:.2f}x the plain pread time", page_cpu <= PAGE_CACHE_TOLERANCE,
        f"{page_cpu:.2f}x")
    worst, worst_cpu = [], []
    for ours, theirs, label in ((ours_c, h5c, "contiguous vs h5py contiguous"),
                                (ours_gz, h5gz, "shuffle+deflate-4+fletcher32 vs h5py gzip-4+shuffle")):
        w = ours["write_s"] / theirs["write_s"]
        r = ours["read_s"] / theirs["read_s"]
        print(f"  our hdf5 {label}: write time {w:.2f}x (cpu {cpu(ours, theirs, 'write')}), read time {r:.2f}x "
              f"(cpu {cpu(ours, theirs, 'read')}), size {ours['size'] / theirs['size']:.4f}x")
        name = label.split(" vs")[0]
        worst += [(w, f"{name} write"), (r, f"{name} read")]
        worst_cpu += [(ours["write_cpu_s"] / theirs["write_cpu_s"], f"{name} write"),
                      (ours["read_cpu_s"] / theirs["read_cpu_s"], f"{name} read")]
    w_max, c_max = max(worst), max(worst_cpu)
    results[f"our HDF5 reads and writes within {HDF5_TOLERANCE}x of h5py"] = (
        w_max[0] <= HDF5_TOLERANCE, f"worst {w_max[0]:.2f}x the time ({w_max[1]})",
        c_max[0] <= HDF5_TOLERANCE, f"worst {c_max[0]:.2f}x ({c_max[1]})")
    return results


def zstd_ratios(model, rows, raw, h5gz):
    """Prints the shuffle-zstd figures and returns its targets (judged on ZSTD_TARGET_MODEL only)."""
    z = find(rows, "cnnz", "shuffle-zstd")
    payload, size = z["payload"], z["size"] / raw["size"]
    print(f"  cnnz shuffle-zstd: size {size:.4f}x raw CNNZ (vs h5py gzip-4+shuffle: the line above)")
    targets = {}
    memory = [r for r in rows if r["format"] == "cnnz-memory"]
    two = next((r for r in memory if r["variant"].startswith("shuffle-zstd, ") and "1 thread" not in r["variant"]), None)
    one = find(rows, "cnnz-memory", "shuffle-zstd, 1 thread")
    bf = next((r for r in memory if r["variant"].startswith("shuffle-zstd bfloat16")), None)
    bf_raw = next((r for r in memory if r["variant"].startswith("raw bfloat16")), None)
    encode = decode = encode_cpu = decode_cpu = None
    if two:
        encode, decode = payload / two["write_s"] / 1e6, payload / two["read_s"] / 1e6
        encode_cpu, decode_cpu = payload / two["write_cpu_s"] / 1e6, payload / two["read_cpu_s"] / 1e6
        line = (f"  shuffle-zstd in memory ({two['variant']}): encode {encode:,.0f} MB/s, decode {decode:,.0f} MB/s; "
                f"per CPU-second: encode {encode_cpu:,.0f} MB, decode {decode_cpu:,.0f} MB")
        if one:
            line += (f"; 1 thread: encode {payload / one['write_s'] / 1e6:,.0f} MB/s, "
                     f"decode {payload / one['read_s'] / 1e6:,.0f} MB/s")
        print(line)
    bf_ratio = None
    if bf and bf_raw:
        bf_ratio = bf["size"] / bf_raw["size"]
        print(f"  bfloat16 shuffle-zstd: {bf_ratio:.4f}x raw bfloat16 CNNZ, {bf['size'] / raw['size']:.4f}x raw float32 CNNZ")
    if model != ZSTD_TARGET_MODEL:
        return {}
    targets[f"shuffle-zstd <= {ZSTD_MAX_SIZE}x raw on N(0, 0.02) float32"] = (size <= ZSTD_MAX_SIZE, f"{size:.4f}x", None, None)
    size_h5 = z["size"] / h5gz["size"]
    targets["shuffle-zstd no larger than h5py gzip-4+shuffle"] = (size_h5 <= 1, f"{size_h5:.3f}x", None, None)
    if two:
        # By CPU time: the MB per CPU-second times the threads, i.e. the speed an unloaded machine would give.
        threads = 2
        targets[f"shuffle-zstd encodes >= {ZSTD_ENCODE_MBS} MB/s with 2 threads"] = (
            encode >= ZSTD_ENCODE_MBS, f"{encode:,.0f} MB/s", encode_cpu * threads >= ZSTD_ENCODE_MBS,
            f"{encode_cpu * threads:,.0f} MB/s (2 x MB per CPU-second)")
        targets[f"shuffle-zstd decodes >= {ZSTD_DECODE_MBS} MB/s with 2 threads"] = (
            decode >= ZSTD_DECODE_MBS, f"{decode:,.0f} MB/s", decode_cpu * threads >= ZSTD_DECODE_MBS,
            f"{decode_cpu * threads:,.0f} MB/s (2 x MB per CPU-second)")
    write, write_cpu = h5gz["write_s"] / z["write_s"], h5gz["write_cpu_s"] / z["write_cpu_s"]
    targets[f"shuffle-zstd writes >= {ZSTD_WRITE_VS_H5PY}x faster than h5py gzip-4+shuffle"] = (
        write >= ZSTD_WRITE_VS_H5PY, f"{write:.1f}x", write_cpu >= ZSTD_WRITE_VS_H5PY, f"{write_cpu:.1f}x")
    if bf_ratio is not None:
        targets[f"bfloat16 shuffle-zstd <= {ZSTD_BFLOAT16_MAX}x raw (bfloat16)"] = (
            bf_ratio <= ZSTD_BFLOAT16_MAX, f"{bf_ratio:.4f}x", None, None)
    return targets


def open_ratios(model, row):
    """Prints the side-by-side open figures; returns the open target when `model` is OPEN_TARGET_MODEL."""
    print(f"\nopen a raw CNNZ file and get every tensor, CRCs checked, vs safetensors safe_open + get_tensor of every "
          f"tensor ({model}, {row['rounds']} alternating rounds, load {row['load']} .. {row['load_after']}; "
          f"bitwise {'ok' if row['verified'] else 'FAILED'}):")
    print(f"  safetensors safe_open + get_tensor: {fmt_time(row['safetensors_s'])} (cpu {fmt_time(row['safetensors_cpu_s'])})")
    print(f"  cnnz mapped views (CRCs checked at open): {fmt_time(row['cnnz_views_s'])} (cpu {fmt_time(row['cnnz_views_cpu_s'])}); "
          f"time ratio {row['views_ratio']:.2f}x (cpu {row['views_cpu_ratio']:.2f}x)")
    print(f"  cnnz pread copies (CRCs checked): {fmt_time(row['cnnz_copies_s'])} (cpu {fmt_time(row['cnnz_copies_cpu_s'])}); "
          f"time ratio {row['copies_ratio']:.2f}x (cpu {row['copies_cpu_ratio']:.2f}x)")
    if model != OPEN_TARGET_MODEL:
        return {}
    return {"open raw CNNZ + every tensor (mapped views, CRCs checked) at least as fast as safetensors safe_open + get_tensor": (
        row["views_ratio"] <= 1 and row["verified"], f"{row['views_ratio']:.2f}x the time (copies: {row['copies_ratio']:.2f}x)",
        row["views_cpu_ratio"] <= 1, f"{row['views_cpu_ratio']:.2f}x")}


def main():
    paths = sys.argv[1:] or ["-"]
    rows = load(paths)
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    targets = None
    zstd_targets = {}
    open_targets = {}
    for model in models:
        mine = [r for r in rows if r["model"] == model and r["format"] != "open-read"]
        table(model, mine)
        result = ratios(model, mine)
        opened = next((r for r in rows if r["model"] == model and r["format"] == "open-read"), None)
        if opened:
            open_targets.update(open_ratios(model, opened))
        zstd_keys = [k for k in result if "shuffle-zstd" in k]
        if model == ZSTD_TARGET_MODEL:
            zstd_targets = {k: result[k] for k in zstd_keys}
        if model == TARGET_MODEL:
            targets = {k: v for k, v in result.items() if k not in zstd_keys}
    print(f"\nSpeed targets of Benchmarks/README.md (large files: judged on the {TARGET_MODEL} model; wall-clock is the target, "
          f"CPU time is shown beside it because wall-clock on a loaded machine says little)")
    if targets is None:
        print(f"  not judged: no {TARGET_MODEL} results")
        targets = {}
    if not zstd_targets:
        print(f"  shuffle-zstd targets not judged: no {ZSTD_TARGET_MODEL} results")
    else:
        print(f"  (shuffle-zstd targets: judged on the {ZSTD_TARGET_MODEL} model)")
    if not open_targets:
        print(f"  open target not judged: no open-read results for the {OPEN_TARGET_MODEL} model")
    for name, (met, text, met_cpu, text_cpu) in {**targets, **zstd_targets, **open_targets}.items():
        line = f"  {'met    ' if met else 'MISSED '} {name}: {text}"
        if met_cpu is not None:
            line += f"; by CPU time {text_cpu}: {'met' if met_cpu else 'MISSED'}"
        print(line)


if __name__ == "__main__":
    main()
