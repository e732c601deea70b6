#!/usr/bin/env bash
# Anonymous (non-file-backed) memory of `cnnkit predict` on a ~500 MB raw CNNZ model: the weights are mapped
# read-only and used in place, so the process's RssAnon must stay below 100 MiB (issue 13); the mapped file's
# pages count as RssFile (page cache shared with every reader), not as the process's own memory.
#
# Builds release, generates the model once with `cnnkit train --epochs 0 --compression none` (input 28x28x1,
# conv 3x3 x 64 same padding, flatten to 50176, dense 2500: a 501.8 MB dense kernel; generation is not
# measured), writes the first N (default 8) Fashion-MNIST test images as a .npy, then runs `cnnkit predict`
# while sampling /proc/PID/status every 5 ms: peak RssAnon, peak RssFile, peak VmHWM. The same run on the
# model converted to shuffle-zstd CNNZ and to safetensors shows what a format that cannot be mapped costs.
# Exit 0 when the raw CNNZ run stays below 100 MiB of anonymous memory, 1 otherwise. Files go under
# .build/predict-memory and are deleted afterwards.
#
# Usage: Benchmarks/predict_memory.sh [IMAGES] [DENSE_UNITS]   (defaults 8 and 2500)
set -euo pipefail

cd "$(dirname "$0")/.."
IMAGES="${1:-8}"
UNITS="${2:-2500}"
WORK=.build/predict-memory
BIN=.build/release/cnnkit
DATA="${CNNKIT_DATA:-/usr/share/datasets/fashion-mnist}"
LIMIT_MIB=100

. Benchmarks/big_model.sh

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

big_model --compression none

# The first IMAGES test images as uint8 [N, 28, 28] in a .npy (format 1.0, written by hand: no numpy needed).
python3 - "$DATA/t10k-images-idx3-ubyte.gz" "$IMAGES" "$WORK/images.npy" <<'PY'
import gzip, sys
raw = gzip.open(sys.argv[1]).read()
n = int(sys.argv[2])
header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 28, 28), }" % n
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[3], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + raw[16:16 + 784 * n])
PY

mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
status=0
# Runs the command, samples /proc/PID/status until it exits, prints the peaks (kB in /proc, shown in MiB).
measure() {
    local label="$1"; shift
    "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" &
    local pid=$! anon=0 file=0 hwm=0 line a f h
    while kill -0 "$pid" 2>/dev/null; do
        if line=$(grep -E '^(RssAnon|RssFile|VmHWM):' "/proc/$pid/status" 2>/dev/null | awk '{ printf "%s ", $2 }'); then
            read -r h a f <<< "$line"
            [ -n "${a:-}" ] && [ "$a" -gt "$anon" ] && anon=$a
            [ -n "${f:-}" ] && [ "$f" -gt "$file" ] && file=$f
            [ -n "${h:-}" ] && [ "$h" -gt "$hwm" ] && hwm=$h
        fi
        sleep 0.005
    done
    wait "$pid" || { cat "$WORK/err.txt" >&2; echo "$label: predict failed" >&2; status=1; return; }
    printf '%-28s peak RssAnon %s, peak RssFile %s, VmHWM %s\n' "$label" "$(mib "$anon")" "$(mib "$file")" "$(mib "$hwm")"
    LAST_ANON=$anon
}

echo "model: $(stat -c %s "$WORK/big.cnnz") bytes (raw CNNZ); $IMAGES images"
measure "predict raw cnnz (mapped)" "$BIN" predict "$WORK/big.cnnz" "$WORK/images.npy" --json
raw_anon=$LAST_ANON
cp "$WORK/out.txt" "$WORK/raw.json"
"$BIN" convert "$WORK/big.cnnz" "$WORK/big.safetensors" >&2
rm -f "$WORK/big.cnnz.npy"
measure "predict safetensors (read)" "$BIN" predict "$WORK/big.safetensors" "$WORK/images.npy" --json
cmp -s "$WORK/out.txt" "$WORK/raw.json" || { echo "safetensors predictions differ from raw CNNZ's" >&2; status=1; }
rm -f "$WORK/big.safetensors"
"$BIN" convert "$WORK/big.cnnz" "$WORK/big-zstd.cnnz" >&2
measure "predict shuffle-zstd cnnz" "$BIN" predict "$WORK/big-zstd.cnnz" "$WORK/images.npy" --json
cmp -s "$WORK/out.txt" "$WORK/raw.json" || { echo "shuffle-zstd predictions differ from raw CNNZ's" >&2; status=1; }

if [ "$raw_anon" -lt $((LIMIT_MIB * 1024)) ]; then
    echo "met     raw CNNZ predict keeps anonymous memory below $LIMIT_MIB MiB: $(mib "$raw_anon")"
else
    echo "MISSED  raw CNNZ predict keeps anonymous memory below $LIMIT_MIB MiB: $(mib "$raw_anon")"
    status=1
fi
exit $status
