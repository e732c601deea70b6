#!/usr/bin/env python3
"""Prints CNNKit's throughput beside PyTorch's and JAX's, as ratios, and checks CNNKit's speed targets.

Usage:
    compare.py cnnkit.json torch.json jax.json     # each file: one JSON line from a *-bench --json run
    cat *.json | compare.py                        # or JSON lines on standard input ("-" as a file also works)

Each line has the shape
    {"system": "cnnkit", "threads": 2, "images": 20000, "train_b1": 1.0, "train_b32": 2.0, "inference": 3.0}
One of them must be CNNKit's (system "cnnkit"). Exit 0 whatever the numbers (it is a report);
exit 1 when an input is missing or unparseable. Standard library only.
"""

import json
import sys

FIELDS = ("train_b1", "train_b32", "inference")
LABELS = {"train_b1": "b1", "train_b32": "b32", "inference": "inference"}
# The seed-network speed targets of Benchmarks/README.md ("Speed targets").
TARGETS = {"train_b1": 25_000, "train_b32": 50_000, "inference": 100_000}


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


def main(argv):
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    rows = read_rows(argv or ["-"])
    cnnkit = [r for r in rows if r["system"].lower().startswith("cnnkit")]
    if not cnnkit:
        fail("no CNNKit line (system \"cnnkit\") among the inputs")
    base = cnnkit[0]
    others = [r for r in rows if r is not base]

    header = f"{'system':<16} {'threads':>7} {'images':>7} {'train b1 img/s':>15} {'train b32 img/s':>16} {'inference img/s':>16}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['system']:<16} {str(r.get('threads', '?')):>7} {str(r.get('images', '?')):>7} "
              f"{r['train_b1']:>15,.0f} {r['train_b32']:>16,.0f} {r['inference']:>16,.0f}")
    print()

    for r in others:
        ratios = ", ".join(f"{LABELS[k]} {base[k] / r[k]:.1f}x" for k in FIELDS)
        note = ""
        if r.get("threads") != base.get("threads") or r.get("images") != base.get("images"):
            note = (f"  (not like for like: threads {base.get('threads')} vs {r.get('threads')}, "
                    f"images {base.get('images')} vs {r.get('images')})")
        print(f"{base['system']} / {r['system']}: {ratios}{note}")
    if others:
        print()

    print("Speed targets for CNNKit (Benchmarks/README.md):")
    met = 0
    for k in FIELDS:
        ok = base[k] >= TARGETS[k]
        met += ok
        print(f"  {LABELS[k]:<10} >= {TARGETS[k]:>7,} img/s: {base[k]:>10,.0f}  {'met' if ok else 'NOT met'}")
    print(f"  {met} of {len(FIELDS)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
