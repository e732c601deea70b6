#!/usr/bin/env python3
"""Table of file-format results from cnnz-bench and formats_bench.py, with ratios and DESIGN.md's targets.

Usage: formats_compare.py RESULTS.jsonl [RESULTS.jsonl ...]   (or - for standard input)

Reads the JSON lines both benchmarks print, and for each model prints every format's size, write and read
times and speeds (MB/s of float32 payload, MB = 10^6 bytes), then the ratios:

- CNNZ compressed vs h5py gzip-4+shuffle: size ratio (lower is better), write and decode (warm read) speed
  ratios (higher is better);
- CNNZ raw vs safetensors: read speed ratio; CNNZ raw vs a plain pread of the same bytes (the page-cache floor);
- our HDF5 vs h5py (contiguous vs contiguous, shuffle+deflate-4 vs gzip-4+shuffle): time ratios.

The targets (DESIGN.md section 7, for large files) are judged on the synthetic model; the seed model's ratios
are shown for information. Exits 0 whatever the numbers; 1 when an input is missing, unparseable or lacks a
result the table needs. Needs only the standard library.
"""
import json
import sys

PAGE_CACHE_TOLERANCE = 1.25  # "loads at page-cache speed": CNNZ raw read <= 1.25x a plain pread of the bytes
HDF5_TOLERANCE = 1.25        # "HDF5 reads and writes within 1.25x of h5py"
TARGET_MODEL = "synthetic"


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
    header = ["format", "variant", "size", "size/payload", "write", "write MB/s", "read (warm)", "read MB/s",
              "cold read", "cold MB/s", "runs w/r", "bitwise"]
    lines = []
    for r in rows:
        lines.append([
            r["format"], r["variant"], fmt_size(r["size"]) if r.get("size") is not None else "-",
            f"{r['size'] / payload:.4f}" if r.get("size") is not None else "-",
            fmt_time(r.get("write_s")), fmt_speed(payload, r.get("write_s")),
            fmt_time(r.get("read_s")), fmt_speed(payload, r.get("read_s")),
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

    print(f"\nratios ({model}); size: CNNZ / other (lower is better); speed: CNNZ / other (higher is better)")
    results = {}
    for variant in ("shuffle-deflate", "deflate"):
        c = need("cnnz", variant)
        size = c["size"] / h5gz["size"]
        write = h5gz["write_s"] / c["write_s"]
        decode = h5gz["read_s"] / c["read_s"]
        cold = h5gz["cold_read_s"] / c["cold_read_s"]
        print(f"  cnnz {variant} vs h5py gzip-4+shuffle: size {size:.3f}x, write speed {write:.2f}x, "
              f"decode speed {decode:.2f}x (cold {cold:.2f}x)")
        if variant == "shuffle-deflate":
            results["compressed CNNZ (shuffle-deflate) smaller than h5py gzip-4+shuffle"] = (
                size < 1, f"{size:.3f}x the size")
            results["compressed CNNZ (shuffle-deflate) decodes faster than h5py gzip-4+shuffle"] = (
                decode > 1, f"{decode:.2f}x the speed")
    r_st = st["read_s"] / raw["read_s"]
    r_st_cold = st["cold_read_s"] / raw["cold_read_s"]
    w_st = st["write_s"] / raw["write_s"]
    print(f"  cnnz raw vs safetensors: read speed {r_st:.2f}x (cold {r_st_cold:.2f}x), write speed {w_st:.2f}x, "
          f"size {raw['size'] / st['size']:.4f}x")
    page = raw["read_s"] / plain["read_s"]
    extra = ""
    if raw_nocrc:
        extra = f"; without chunk CRCs {raw_nocrc['read_s'] / plain['read_s']:.2f}x"
    print(f"  cnnz raw read time vs plain pread of the same bytes: {page:.2f}x{extra} "
          f"(cold {raw['cold_read_s'] / plain['cold_read_s']:.2f}x)")
    results[f"raw CNNZ loads at page-cache speed (read <= {PAGE_CACHE_TOLERANCE}x plain pread)"] = (
        page <= PAGE_CACHE_TOLERANCE, f"{page:.2f}x the plain pread time")
    worst = []
    for ours, theirs, label in ((ours_c, h5c, "contiguous vs h5py contiguous"),
                                (ours_gz, h5gz, "shuffle+deflate-4+fletcher32 vs h5py gzip-4+shuffle")):
        w = ours["write_s"] / theirs["write_s"]
        r = ours["read_s"] / theirs["read_s"]
        print(f"  our hdf5 {label}: write time {w:.2f}x, read time {r:.2f}x, size {ours['size'] / theirs['size']:.4f}x")
        worst += [(w, f"{label.split(' vs')[0]} write"), (r, f"{label.split(' vs')[0]} read")]
    w_max = max(worst)
    results[f"our HDF5 reads and writes within {HDF5_TOLERANCE}x of h5py"] = (
        w_max[0] <= HDF5_TOLERANCE, f"worst {w_max[0]:.2f}x ({w_max[1]})")
    return results


def main():
    paths = sys.argv[1:] or ["-"]
    rows = load(paths)
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    targets = None
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        table(model, mine)
        result = ratios(model, mine)
        if model == TARGET_MODEL:
            targets = result
    print(f"\nDESIGN.md section 7 targets (large files: judged on the {TARGET_MODEL} model)")
    if targets is None:
        print(f"  not judged: no {TARGET_MODEL} results")
        return
    for name, (met, text) in targets.items():
        print(f"  {'met    ' if met else 'MISSED '} {name}: {text}")


if __name__ == "__main__":
    main()
