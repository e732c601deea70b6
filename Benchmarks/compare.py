#!/usr/bin/env python3
"""Prints CNNKit's throughput beside PyTorch's and JAX's, as ratios, and checks CNNKit's speed targets.

Usage:
    compare.py cnnkit.json torch.json jax.json     # each file: JSON lines from *-bench --json runs
    cat *.json | compare.py                        # or JSON lines on standard input ("-" as a file also works)

Each line has the shape
    {"system": "cnnkit", "network": "two-conv", "threads": 2, "images": 20000, "train_b1": 1.0, "train_b32": 2.0, "inference": 3.0}
("network" defaults to "seed"). One of them must be CNNKit's (system "cnnkit"). Prints one table of every
network, system and thread count with the GFLOP/s of each figure, CNNKit's ratios against each system (best
thread count of each), and the targets. Exit 0 whatever the numbers (it is a report);
exit 1 when an input is missing or unparseable. Standard library only.
"""

import json
import sys

FIELDS = ("train_b1", "train_b32", "inference")
LABELS = {"train_b1": "b1", "train_b32": "b32", "inference": "inference"}
# The seed-network speed targets of Benchmarks/README.md ("Speed targets").
TARGETS = {"train_b1": 25_000, "train_b32": 50_000, "inference": 100_000}
# The other networks' targets: CNNKit's best over PyTorch's best thread count.
RATIO_TARGETS = {"two-conv": {"train_b32": 1.5, "inference": 2.0}, "wide": {"train_b32": 1.0}}
# (c1, c2, units) of the two-convolution networks, as in bench_common.NETWORKS (which needs NumPy).
NETWORKS = {"two-conv": (32, 64, 128), "wide": (64, 128, 256)}


def fail(message):
    print(f"compare.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse_line(text, where):
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"{where}: not JSON ({e})")
    if not isinstance(row, dict):
        fail(f"{where}: expected a JSON object")
    if not isinstance(row.get("system"), str):
        fail(f"{where}: missing \"system\"")
    for key in FIELDS:
        value = row.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            fail(f"{where}: \"{key}\" must be a positive number, got {value!r}")
    return row


def read_rows(sources):
    rows = []
    for name in sources:
        if name == "-":
            text, label = sys.stdin.read(), "<stdin>"
        else:
            try:
                with open(name, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                fail(f"{name}: {e.strerror or e}")
            label = name
        lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
        if not lines:
            fail(f"{label}: empty (did the benchmark fail?)")
        # A benchmark may log around its result: lines that do not start with "{" are skipped.
        for number, line in lines:
            if line.lstrip().startswith("{"):
                rows.append(parse_line(line, f"{label}:{number}"))
        if not any(line.lstrip().startswith("{") for _, line in lines):
            fail(f"{label}: no JSON line found")
    return rows


def multiply_adds(network):
    """Forward multiply-adds per image, and those of the first layer (which needs no input gradient)."""
    if network == "seed":
        conv1 = 26 * 26 * 9 * 16
        return conv1 + 2704 * 10, conv1
    c1, c2, units = NETWORKS[network]
    conv1 = 26 * 26 * 9 * c1
    return conv1 + 11 * 11 * 9 * c1 * c2 + 25 * c2 * units + units * 10, conv1


def gflops(network, field, rate):
    """GFLOP/s reached: 2 FLOP per multiply-add; training is the forward pass, the kernel gradients (as many
    multiply-adds again) and the input gradients of every layer but the first."""
    forward, first = multiply_adds(network)
    per_image = 2 * forward if field == "inference" else 2 * (3 * forward - first)
    return rate * per_image / 1e9


def best(rows, field):
    return max(rows, key=lambda r: r[field]) if rows else None


def main(argv):
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    rows = read_rows(argv or ["-"])
    for r in rows:
        r.setdefault("network", "seed")
        if r["network"] not in ("seed", *NETWORKS):
            fail(f"unknown network {r['network']!r}")
    if not any(r["system"].lower().startswith("cnnkit") for r in rows):
        fail("no CNNKit line (system \"cnnkit\") among the inputs")
    networks = [n for n in ("seed", *NETWORKS) if any(r["network"] == n for r in rows)]

    header = (f"{'network':<9} {'system':<15} {'threads':>7} {'images':>6} {'train b1':>9} {'GFLOP/s':>7} "
              f"{'train b32':>9} {'GFLOP/s':>7} {'inference':>9} {'GFLOP/s':>7}")
    print("img/s, and the GFLOP/s each figure means (two AVX2 cores with FMA peak near 190)")
    print(header)
    print("-" * len(header))
    for n in networks:
        for r in (r for r in rows if r["network"] == n):
            cells = " ".join(f"{r[k]:>9,.0f} {gflops(n, k, r[k]):>7.1f}" for k in FIELDS)
            print(f"{n:<9} {r['system']:<15} {str(r.get('threads', '?')):>7} {str(r.get('images', '?')):>6} {cells}")
    print()

    # Ratios: each system's best thread count (PyTorch's OpenMP threads stall when anything else runs, so its
    # better of 1 and 2 threads is the fair figure; CNNKit's results do not depend on threads).
    verdicts = []
    for n in networks:
        mine = [r for r in rows if r["network"] == n and r["system"].lower().startswith("cnnkit")]
        if not mine:
            continue
        systems = sorted({r["system"] for r in rows if r["network"] == n} - {mine[0]["system"]})
        for system in systems:
            theirs = [r for r in rows if r["network"] == n and r["system"] == system]
            ratios = ", ".join(f"{LABELS[k]} {best(mine, k)[k] / best(theirs, k)[k]:.2f}x" for k in FIELDS)
            print(f"{n}: cnnkit / {system} (best thread count of each): {ratios}")
            if system.startswith("pytorch") and n in RATIO_TARGETS:
                for k, factor in RATIO_TARGETS[n].items():
                    ratio = best(mine, k)[k] / best(theirs, k)[k]
                    verdicts.append((f"{n} {LABELS[k]} >= {factor:.1f}x PyTorch's best", f"{ratio:.2f}x", ratio >= factor))
        if n == "seed":
            for k in FIELDS:
                value = best(mine, k)[k]
                verdicts.append((f"seed {LABELS[k]} >= {TARGETS[k]:,} img/s", f"{value:,.0f}", value >= TARGETS[k]))
    print()
    print("Speed targets for CNNKit (Benchmarks/README.md):")
    for what, value, ok in verdicts:
        print(f"  {what:<40} {value:>10}  {'met' if ok else 'NOT met'}")
    print(f"  {sum(ok for _, _, ok in verdicts)} of {len(verdicts)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
