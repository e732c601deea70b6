#!/usr/bin/env bash
# Fuzzes every reader with libFuzzer + AddressSanitizer (Documentation/fuzzing.md).
#
#   scripts/fuzz.sh [TARGET...]            build the fuzzers (release, .build-fuzz) and run each TARGET for
#                                          ${FUZZ_SECONDS:-60} s (default: every target)
#   scripts/fuzz.sh --replay [TARGET...]   build normally (debug, ${FUZZ_REPLAY_SCRATCH:-.build}) and replay each
#                                          TARGET's seed corpus through its reader (a crash fails)
#
# Targets, each a mode of one executable (Sources/ModelFuzz, CNNKIT_FUZZ_FORMAT) that reads its input through
# ModelFiles.open + Verifier.verify as `cnnkit verify` does: cnnz (which also fuzzes the CNNZ module alone, CRCs
# resealed), safetensors, npz, pt, onnx, keras, h5, weights.h5. Seed corpora: Fixtures/<format>/corpus
# (scripts/make_fuzz_corpora.py). One product, so that the sanitizer build is made once.
#
# Each run's corpus is a scratch copy (.build-fuzz/corpus/TARGET) so findings do not touch the repository;
# crashes, leaks, out-of-memory and timeouts land in .build-fuzz/artifacts/TARGET/ and fail the script, with one
# exception: a finding that is libhdf5's own (a timeout, signal or ASan error whose innermost frames, and
# allocating frames, are libhdf5's: libhdf5 1.10.8 loops forever on some corrupt files, Fixtures/hdf5/hang/, and
# reads freed memory on others) is moved to .build-fuzz/artifacts/TARGET/libhdf5/ with its log, reported, and
# fuzzing goes on; FUZZ_LIBHDF5_FINDINGS=fail makes those fail too (for when the libhdf5 watchdog is merged).
# FUZZ_TIMEOUT (default 10) is libFuzzer's -timeout per input, in seconds.
#
# Note: SwiftPM passes --sanitize=fuzzer and --sanitize=address to swiftc as two flags and swiftc keeps only the
# last, so the code would get ASan but no coverage instrumentation; -Xswiftc -sanitize=fuzzer,address restores both.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(cnnz safetensors npz pt onnx keras h5 weights.h5)

corpus_of() {
    case "$1" in
        cnnz) echo Fixtures/cnnz/corpus ;;
        safetensors) echo Fixtures/safetensors/corpus ;;
        npz) echo Fixtures/npz/corpus ;;
        pt) echo Fixtures/pytorch/corpus ;;
        onnx) echo Fixtures/onnx/corpus ;;
        keras) echo Fixtures/keras/corpus ;;
        h5) echo Fixtures/hdf5/corpus ;;
        weights.h5) echo Fixtures/hdf5/weights-corpus ;;
        *) echo "fuzz.sh: unknown target '$1' (targets: ${all_targets[*]})" >&2; exit 64 ;;
    esac
}
# The longest input libFuzzer makes: above the largest seed of the corpus.
max_len_of() {
    case "$1" in
        cnnz|safetensors) echo 16384 ;;
        npz|pt|onnx) echo 65536 ;;
        *) echo 131072 ;;
    esac
}

replay=0
if [[ "${1:-}" == "--replay" ]]; then replay=1; shift; fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do corpus_of "$t" >/dev/null; done

if [[ $replay == 1 ]]; then
    scratch="${FUZZ_REPLAY_SCRATCH:-.build}"
    swift build --scratch-path "$scratch" --product ModelFuzz
    mkdir -p .build-fuzz
    for t in "${targets[@]}"; do
        log=".build-fuzz/replay-$t.log"
        if ! CNNKIT_FUZZ_FORMAT="$t" "$scratch/debug/ModelFuzz" "$(corpus_of "$t")" > "$log" 2>&1; then
            tail -n 20 "$log"
            echo "fuzz.sh: replay of $(corpus_of "$t") failed (log: $log)" >&2
            exit 1
        fi
        echo "$t: $(tail -n 1 "$log") from $(corpus_of "$t") (log: $log)"
    done
    exit 0
fi

seconds="${FUZZ_SECONDS:-60}"
per_input_timeout="${FUZZ_TIMEOUT:-10}"
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    --product ModelFuzz --scratch-path .build-fuzz
export SWIFT_BACKTRACE=enable=no
# A huge allocation that a corrupt length asks for returns NULL, as glibc's malloc does outside ASan: libhdf5
# then fails cleanly (exit 65), and Swift code still traps on NULL (a finding). Leaks that are not CNNKit's are
# suppressed, each with its reason, in scripts/fuzz-lsan.supp.
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$PWD/scripts/fuzz-lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The inputs' files (Sources/ModelFuzz writes each input to a file), removed at the end.
export CNNKIT_FUZZ_SCRATCH
CNNKIT_FUZZ_SCRATCH=$(mktemp -d "$( [[ -d /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/cnnkit-fuzz-run-XXXXXX")
trap 'rm -rf "$CNNKIT_FUZZ_SCRATCH"' EXIT

# True when a libFuzzer report (timeout, deadly signal, out-of-memory, ASan error) blames libhdf5 alone: the innermost frame
# below the sanitizer, libFuzzer and libc frames is libhdf5's, and so is the allocating one of a heap error.
libhdf5_own() {
    awk '/ERROR: libFuzzer: (timeout|deadly signal|out-of-memory)|ERROR: AddressSanitizer/ { on = 1; part = "use"; next }
         on && /^(freed by|previously allocated by)/ { part = ($0 ~ /allocated/) ? "alloc" : "free"; next }
         on && /^ *#[0-9]+ / {
             if (part in top || $0 ~ /compiler-rt|libc\.so|libpthread|linux-vdso/) next
             top[part] = ($0 ~ /libhdf5/) }
         END { exit !(("use" in top) && top["use"] && (!("alloc" in top) || top["alloc"])) }' "$1"
}

summary=()
failed=0
for t in "${targets[@]}"; do
    corpus=".build-fuzz/corpus/$t"
    artifacts=".build-fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts/libhdf5"
    cp -n "$(corpus_of "$t")"/* "$corpus"/ 2>/dev/null || true
    rm -f "$corpus/README.md"
    executions=0
    known=0
    finding=""
    deadline=$(( $(date +%s) + seconds ))
    while :; do
        remaining=$(( deadline - $(date +%s) ))
        (( remaining > 0 )) || break
        log=".build-fuzz/fuzz-$t.log"
        status=0
        CNNKIT_FUZZ_FORMAT="$t" ".build-fuzz/release/ModelFuzz" "$corpus" -max_total_time="$remaining" \
            -timeout="$per_input_timeout" -rss_limit_mb=2048 -max_len="$(max_len_of "$t")" -print_final_stats=1 \
            -artifact_prefix="$artifacts/" > "$log" 2>&1 || status=$?
        runs=$(awk '/stat::number_of_executed_units/ { n = $2 } END { print n + 0 }' "$log")
        executions=$(( executions + runs ))
        (( status != 0 )) || break
        artifact=$(ls -t "$artifacts"/{crash,leak,oom,timeout,slow-unit}-* 2>/dev/null | head -n 1 || true)
        if [[ -n "$artifact" && "$(basename "$artifact")" != leak-* && "${FUZZ_LIBHDF5_FINDINGS:-count}" != fail ]] \
           && libhdf5_own "$log"; then
            known=$(( known + 1 ))
            mv "$artifact" "$artifacts/libhdf5/"
            cp "$log" "$artifacts/libhdf5/$(basename "$artifact").log"
            echo "$t: libhdf5's own finding ($(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer): [a-z-]+( [a-z-]+)?' "$log")):" \
                 "$artifacts/libhdf5/$(basename "$artifact"); fuzzing on"
            continue
        fi
        tail -n 60 "$log"
        finding="${artifact:-exit $status, see $log}"
        failed=1
        break
    done
    line="$t: $executions executions in ${seconds} s, corpus $(ls "$corpus" | wc -l) inputs, libhdf5 findings $known"
    [[ -z "$finding" ]] || line="$line, FINDING $finding"
    echo "$line"
    summary+=("$line")
done
echo "--- fuzz summary (${seconds} s per target, -timeout=${per_input_timeout})"
printf '%s\n' "${summary[@]}"
exit $failed
