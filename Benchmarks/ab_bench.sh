#!/usr/bin/env bash
# A/B of two cnnkit-bench binaries (for example the release before a change and after it) on the same machine in
# one command: ROUNDS rounds, each running A then B (`--images 20000 --threads 2`, or `$AB_ARGS --threads 2`), then the median of each field
# and B's ratio to A. Interleaving puts both under the same load, so the ratio means more than either figure on a
# shared machine. Prints one line per run and the table; exit 0 whatever the numbers.
#
# Usage: Benchmarks/ab_bench.sh A_BIN B_BIN [ROUNDS]   (default 8)
#        AB_ARGS="--network two-conv --images 4000" Benchmarks/ab_bench.sh ...   (other arguments for both)
# Example: build the old tree's bench (`git worktree add --detach ../base REV && cd ../base &&
#   swift build -c release -Xswiftc -target-cpu -Xswiftc haswell --product cnnkit-bench`), then
#   Benchmarks/ab_bench.sh ../base/.build/release/cnnkit-bench .build/release/cnnkit-bench
set -euo pipefail
A="$1"; B="$2"; ROUNDS="${3:-8}"
read -r -a ARGS <<< "${AB_ARGS:---images 20000}"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
    echo "A $("$A" "${ARGS[@]}" --threads 2 --json)" | tee -a "$LOG"
    echo "B $("$B" "${ARGS[@]}" --threads 2 --json)" | tee -a "$LOG"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$LOG" <<'PY'
import json, statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    key, text = line.split(" ", 1)
    runs[key].append(json.loads(text))
print(f"{'field':<10} {'A median':>12} {'B median':>12} {'B / A':>7}   (img/s, {len(runs['A'])} runs each)")
for field in ("train_b1", "train_b32", "inference"):
    a = statistics.median(r[field] for r in runs["A"])
    b = statistics.median(r[field] for r in runs["B"])
    print(f"{field:<10} {a:>12,.0f} {b:>12,.0f} {b / a:>6.2f}x")
PY
