#!/usr/bin/env bash
# Peak memory of `cnnkit convert` and `cnnkit inspect` on a ~500 MB model: each must stay under 1.2 x the
# largest tensor + 64 MiB (Benchmarks/README.md, "Memory").
#
# Builds release, generates the model once as CNNZ with `cnnkit train --epochs 0` (input 28x28x1, conv 3x3 x 64
# same padding, flatten to 50176, dense 2500: a 501.8 MB dense kernel; generation may use more memory, it is not
# measured), then measures with /usr/bin/time -v every pair of formats whose reader and writer both stream
# (HDF5, CNNZ, safetensors, npz, .keras, ONNX; FormatCapabilities.streamsReads/streamsWrites), the lossy float16 path, and
# `inspect` of each streaming format. Each conversion also reopens and verifies its output layer by layer.
# Prints each maximum resident set size against the bound. Files go under .build/convert-memory and are
# deleted afterwards. Exit 0 when every run stays under the bound, 1 otherwise.
#
# Usage: Benchmarks/convert_memory.sh [DENSE_UNITS]   (default 2500)
set -euo pipefail

cd "$(dirname "$0")/.."
UNITS="${1:-2500}"
WORK=.build/convert-memory
BIN=.build/release/cnnkit
DATA="${CNNKIT_DATA:-/usr/share/datasets/fashion-mnist}"

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (apt-get install -y time)" >&2
    apt-get install -y time >/dev/null
fi

. Benchmarks/big_model.sh

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

big_model

LARGEST=$((28 * 28 * 64 * UNITS * 4))
BOUND=$((LARGEST * 12 / 10 + 64 * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "model: $(stat -c %s "$WORK/big.cnnz") bytes; largest tensor dense.kernel [50176, $UNITS] = $LARGEST bytes ($(mib "$LARGEST"))"
echo "bound: 1.2 x largest + 64 MiB = $BOUND bytes ($(mib "$BOUND"))"

status=0
measure() {
    local label="$1"; shift
    local log="$WORK/time.log"
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -v "$@" > "$WORK/out.txt" 2> "$log" || { cat "$WORK/out.txt" "$log" >&2; return 1; }
    end=$(date +%s.%N)
    local kib rss verdict
    kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    rss=$((kib * 1024))
    if [ "$rss" -le "$BOUND" ]; then verdict="PASS"; else verdict="FAIL"; status=1; fi
    printf '%-22s max RSS %s (%d bytes) = %.3f x largest tensor; bound %s: %s; %.1f s\n' "$label" "$(mib "$rss")" "$rss" \
        "$(awk -v r="$rss" -v l="$LARGEST" 'BEGIN { print r / l }')" "$(mib "$BOUND")" "$verdict" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
    sed 's/^/    /' "$WORK/out.txt"
}

measure "cnnz -> h5" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.h5"
measure "h5 -> cnnz (deflate)" "$BIN" convert "$WORK/big.h5" "$WORK/big2.cnnz"
measure "cnnz -> safetensors" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.safetensors"
measure "safetensors -> cnnz" "$BIN" convert "$WORK/big.safetensors" "$WORK/big3.cnnz" --compression none
measure "h5 -> safetensors" "$BIN" convert "$WORK/big.h5" "$WORK/big2.safetensors"
measure "safetensors -> h5" "$BIN" convert "$WORK/big.safetensors" "$WORK/big2.h5"
measure "cnnz -> cnnz float16" "$BIN" convert "$WORK/big2.cnnz" "$WORK/big16.cnnz" --dtype float16
measure "cnnz -> npz" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.npz"
measure "npz -> cnnz" "$BIN" convert "$WORK/big.npz" "$WORK/big4.cnnz" --compression none
measure "cnnz -> npz (deflate)" "$BIN" convert "$WORK/big.cnnz" "$WORK/big2.npz" --compression deflate
measure "npz (deflate) -> h5" "$BIN" convert "$WORK/big2.npz" "$WORK/big3.h5"
rm -f "$WORK/big3.h5" "$WORK/big4.cnnz"
measure "cnnz -> keras" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.keras"
measure "keras -> cnnz" "$BIN" convert "$WORK/big.keras" "$WORK/big5.cnnz" --compression none
measure "keras -> npz" "$BIN" convert "$WORK/big.keras" "$WORK/big3.npz"
rm -f "$WORK/big5.cnnz" "$WORK/big3.npz"
measure "cnnz -> onnx" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.onnx"  # then reread and verified (ONNX reads since issue 10)
measure "onnx -> cnnz" "$BIN" convert "$WORK/big.onnx" "$WORK/big6.cnnz" --compression none
rm -f "$WORK/big6.cnnz"
measure "cnnz -> weights.h5" "$BIN" convert "$WORK/big.cnnz" "$WORK/big.weights.h5"
measure "weights.h5 -> cnnz" "$BIN" convert "$WORK/big.weights.h5" "$WORK/big6.cnnz" --compression none
measure "inspect weights.h5" "$BIN" inspect "$WORK/big.weights.h5"
rm -f "$WORK/big6.cnnz" "$WORK/big.weights.h5"
measure "inspect cnnz" "$BIN" inspect "$WORK/big2.cnnz"
measure "inspect h5" "$BIN" inspect "$WORK/big.h5"
measure "inspect safetensors" "$BIN" inspect "$WORK/big.safetensors"
measure "inspect npz" "$BIN" inspect "$WORK/big.npz"
measure "inspect npz (deflate)" "$BIN" inspect "$WORK/big2.npz"
measure "inspect keras" "$BIN" inspect "$WORK/big.keras"
measure "inspect onnx" "$BIN" inspect "$WORK/big.onnx"
measure "report cnnz" "$BIN" report "$WORK/big2.cnnz" -o "$WORK/big.html"  # report and show: the same bound, and under 30 s
measure "show filters cnnz" "$BIN" show filters "$WORK/big2.cnnz" -o "$WORK/filters.png"
exit $status
