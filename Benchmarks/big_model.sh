# Sourced by convert_memory.sh and predict_memory.sh: builds the release binary the way `make bench` does and
# writes the ~500 MB model both measure (input 28x28x1, conv 3x3 x 64 same padding, flatten to 50176, dense
# UNITS: with 2500 units a 501.8 MB dense kernel), generated once with `cnnkit train --epochs 0` (not measured).
#
# Needs WORK (an empty folder), UNITS, BIN and DATA set; extra arguments go to `cnnkit train` (such as
# `--compression none`). Writes "$WORK/big.json" and "$WORK/big.cnnz".
big_model() {
    make -s release >&2   # the build `make bench` and `make demo` use (AVX2 when the CPU has it)
    cat > "$WORK/big.json" <<JSON
{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
  {"type": "conv2d", "filters": 64, "kernel": [3, 3], "padding": "same", "bias": true}, {"type": "relu"},
  {"type": "flatten"}, {"type": "dense", "units": $UNITS, "bias": true}, {"type": "softmax"}]}
JSON
    echo "generating the model (not measured)..." >&2
    "$BIN" train --data "$DATA" --arch "$WORK/big.json" --epochs 0 --limit 100 "$@" --out "$WORK/big.cnnz" >&2
}
