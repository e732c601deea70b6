# CNNKit: `make demo` runs the tour, `make test` runs every test. Both install what is missing first.

SWIFT        ?= swift
# chromium, chromium-driver: the browser test of cnnkit report; pngcheck: a second PNG decoder for cnnkit show.
APT_PACKAGES := libhdf5-dev libzstd-dev hdf5-tools dataset-fashion-mnist chromium chromium-driver pngcheck
VENV         := .venv
BENCH_VENV   := .venv-bench
PYTHON       ?= python3
# Release builds use AVX2 when the CPU has it (results are the same: no FMA contraction in Swift).
CPU_FLAGS    := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && grep -qw movbe /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell")
RELEASE      := $(SWIFT) build -c release $(CPU_FLAGS)
# make fuzz: seconds per fuzz target (eight targets: fourteen minutes); make test: a short run of each.
FUZZ_SECONDS ?= 100
FUZZ_TEST_SECONDS ?= 0
# make torture: mutants per format (make test runs 100), and the seed (default: a fresh one, printed).
MUTATIONS ?= 1000
BENCH_IMAGES ?= 20000
BENCH_TWO_CONV_IMAGES ?= 4000
BENCH_WIDE_IMAGES ?= 1500
BENCH_THREAD_COUNTS ?= 1 2

.PHONY: all deps venv bench-venv build release docs test swift-test interop-test examples fuzz fuzz-replay torture demo bench bench-formats clean

all: build

## System packages, installed only when missing (apt-get needs root; sudo is used when available).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $$missing; \
	fi

## Python venv with the pinned outside tools for the interop tests.
venv: $(VENV)/.installed
$(VENV)/.installed: Tests/Interop/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/Interop/requirements.txt
	touch $@

bench-venv: $(BENCH_VENV)/.installed
$(BENCH_VENV)/.installed: Benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r Benchmarks/requirements.txt
	touch $@

build: deps
	$(SWIFT) build

release: deps
	$(RELEASE)

## DocC documentation of the library modules, combined, into .build/docs/CNNKit (about 30 s); a warning fails it.
DOC_TARGETS := ConvNet ModelArchive ModelFiles Verification Report
docs: deps
	@mkdir -p .build/docs
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
	  $(foreach t,$(DOC_TARGETS),--target $(t)) --enable-experimental-combined-documentation --warnings-as-errors \
	  --output-path .build/docs/CNNKit

## Every test: Swift tests, the example, fuzz corpus replay and a short fuzz run, interop tests with outside tools.
test: deps venv
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) examples
	$(MAKE) docs
	$(MAKE) fuzz-replay
	CNNKIT_BIN=$(CURDIR)/.build/debug/cnnkit KERAS_BACKEND=jax $(VENV)/bin/python -m pytest -q Tests/Interop

examples:
	$(SWIFT) run --skip-build library-tour

## Every fuzz corpus replayed through its reader (the debug build make test already has). A short libFuzzer run of
## each target needs the ASan build of every module (several minutes on 2 cores): make test FUZZ_TEST_SECONDS=8.
fuzz-replay:
	scripts/fuzz.sh --replay
	@if [ "$(FUZZ_TEST_SECONDS)" != "0" ]; then FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_TIMEOUT=5 scripts/fuzz.sh; fi

## libFuzzer + ASan on every reader: FUZZ_SECONDS per target (Documentation/fuzzing.md).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

## The mutation test with MUTATIONS mutants per format (make test runs 100) and a fresh seed unless MUTATION_SEED is given.
torture: deps venv
	$(SWIFT) build --product cnnkit
	MUTATION_COUNT=$(MUTATIONS) MUTATION_SEED=$${MUTATION_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	  CNNKIT_BIN=$(CURDIR)/.build/debug/cnnkit KERAS_BACKEND=jax $(VENV)/bin/python -m pytest -q -s Tests/Interop/test_mutation.py

## The newcomer's tour: train one epoch, save HDF5 and CNNZ, convert, inspect, verify.
demo: deps release
	.build/release/cnnkit demo

## Throughput of CNNKit beside PyTorch and JAX on the same networks, measured in this one run: each network
## (images: BENCH_IMAGES for the seed, fewer for the bigger ones) at each of BENCH_THREAD_COUNTS.
BENCH_NETWORKS := seed:$(BENCH_IMAGES) two-conv:$(BENCH_TWO_CONV_IMAGES) wide:$(BENCH_WIDE_IMAGES)
bench: deps release bench-venv
	$(RELEASE) --product cnnkit-bench
	@mkdir -p .build/bench && rm -f .build/bench/cnnkit.json .build/bench/torch.json .build/bench/jax.json
	@set -e; for entry in $(BENCH_NETWORKS); do network=$${entry%%:*}; images=$${entry##*:}; \
	  for threads in $(BENCH_THREAD_COUNTS); do \
	    echo "bench: $$network, $$images images, $$threads thread(s)"; \
	    .build/release/cnnkit-bench --network $$network --images $$images --threads $$threads --json >> .build/bench/cnnkit.json; \
	    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BENCH_VENV)/bin/python Benchmarks/torch_bench.py --network $$network --images $$images --threads $$threads >> .build/bench/torch.json; \
	    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BENCH_VENV)/bin/python Benchmarks/jax_bench.py --network $$network --images $$images --threads $$threads >> .build/bench/jax.json; \
	  done; done
	$(PYTHON) Benchmarks/compare.py .build/bench/cnnkit.json .build/bench/torch.json .build/bench/jax.json
	$(MAKE) bench-formats

## File formats: CNNZ (each codec) and our HDF5 beside h5py (gzip 4 + shuffle) and safetensors, same tensors.
## The big temporary files live in $(FORMATS_DIR) and are deleted, even when a step fails.
FORMATS_DIR := .build/bench/formats
bench-formats: deps venv
	$(RELEASE) --product cnnz-bench
	@mkdir -p .build/bench && rm -rf $(FORMATS_DIR) && echo "load average before: $$(cut -d' ' -f1-3 /proc/loadavg)"
	@echo "other processes (top 5 by CPU): $$(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -5 | tr -s ' ' | paste -sd ',')"
	.build/release/cnnz-bench --dir $(FORMATS_DIR) > .build/bench/formats-swift.jsonl \
	  && $(VENV)/bin/python Benchmarks/formats_bench.py --cnnz-bench .build/release/cnnz-bench \
	     $(FORMATS_DIR)/seed/manifest.json $(FORMATS_DIR)/synthetic/manifest.json \
	     $(FORMATS_DIR)/normal/manifest.json \
	     > .build/bench/formats-python.jsonl; \
	  status=$$?; rm -rf $(FORMATS_DIR); exit $$status
	$(PYTHON) Benchmarks/formats_compare.py .build/bench/formats-swift.jsonl .build/bench/formats-python.jsonl

clean:
	rm -rf .build
