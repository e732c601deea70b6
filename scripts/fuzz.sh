#!/usr/bin/env bash
# Fuzzes the CNNZ reader (Sources/CNNZFuzz) with libFuzzer + AddressSanitizer.
#
#   scripts/fuzz.sh            build the fuzzer (release, .build-fuzz) and run it for ${FUZZ_SECONDS:-60} s
#   scripts/fuzz.sh --replay   build normally (.build-cnnz, debug) and replay Fixtures/cnnz/corpus through the reader
#
# The seed corpus is copied to a scratch folder (${FUZZ_CORPUS:-.build-fuzz/corpus}) so the run's findings do
# not touch the repository; crashes, leaks and timeouts land in .build-fuzz/artifacts/ and fail the script.
# Note: SwiftPM passes --sanitize=fuzzer and --sanitize=address to swiftc as two flags and swiftc keeps only the
# last, so the code would get ASan but no coverage instrumentation; -Xswiftc -sanitize=fuzzer,address restores both.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=Fixtures/cnnz/corpus

if [[ "${1:-}" == "--replay" ]]; then
    swift build --scratch-path "${CNNZ_SCRATCH:-.build-cnnz}" --product CNNZFuzz
    exec "${CNNZ_SCRATCH:-.build-cnnz}/debug/CNNZFuzz" "$seeds"
fi

seconds="${FUZZ_SECONDS:-60}"
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    --product CNNZFuzz --scratch-path .build-fuzz
corpus="${FUZZ_CORPUS:-.build-fuzz/corpus}"
artifacts=.build-fuzz/artifacts
mkdir -p "$corpus" "$artifacts"
cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
export SWIFT_BACKTRACE=enable=no
exec .build-fuzz/release/CNNZFuzz "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/"
