#!/usr/bin/env bash
# kill -9 at random moments while `cnnkit convert` writes a model of over 200 MB (conv 32 3x3 + dense 2400,
# generated with `cnnkit train --epochs 0`), for .cnnz and .h5 outputs: after each kill the old destination must be
# intact (same SHA-256) or the new one complete (the SHA-256 of a verified reference conversion), and no temporary
# file may remain (HDF5: not after the next write to the same destination; see Documentation/cli.md section 1.9).
# Prints the table: kills, temporary open at the kill, old intact, new complete, neither, kills leaving a file,
# files left after the next write. This is Tests/Interop/test_kill.py's slow test; `make test` runs its 3-kill
# variant on a 21 MB model.
#
# Usage: Benchmarks/kill_test.sh [KILLS]   (default 20 per format; CNNKIT_BIN default .build/debug/cnnkit,
#        PYTHON default .venv/bin/python, CNNKIT_KILL_SEED fixes the random moments)
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS="${1:-20}"
export CNNKIT_SLOW=1 CNNKIT_KILLS="$KILLS" KERAS_BACKEND=jax
export CNNKIT_BIN="${CNNKIT_BIN:-$PWD/.build/debug/cnnkit}"
exec "${PYTHON:-.venv/bin/python}" -m pytest -q -s Tests/Interop/test_kill.py -k test_kill_slow
