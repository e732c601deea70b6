#!/usr/bin/env python3
"""Writes every kind of file (and JSON report) the cnnkit CLI produces from the committed inputs, and hashes them.

    make_golden.py CNNKIT_BIN OUTDIR [--data DIR] [--jobs N] [--record [--force]]

Copies `inputs/` to OUTDIR/inputs, then runs each step below with OUTDIR as the working directory and relative
paths only, so nothing depends on where OUTDIR is. Every output lands in OUTDIR/out/NAME: files cnnkit writes
(`convert`, `train --out`) and the normalised stdout of `inspect/verify/diff --json`. OUTDIR/manifest.json lists,
per NAME, the command, its exit code, the output's SHA-256 and size, or the error when the step failed.

Without --record: also compares with hashes.json and exits 1 on any difference (the pytest version of this is
Tests/Interop/test_byte_identity.py). With --record: runs everything twice (OUTDIR and OUTDIR-again) and refuses
to record when the two runs differ (non-deterministic output); then rewrites hashes.json, keeping its
`deliberate_changes`, and refuses when an output changed that `deliberate_changes` does not name (--force
overrides; only for the very first recording). Only stdlib; any Python 3.9+ runs it. See README.md.
"""

import argparse
import ctypes
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
HASHES = HERE / "hashes.json"
DEFAULT_DATA = os.environ.get("CNNKIT_DATA", "/usr/share/datasets/fashion-mnist")

# How each committed input was made (once, with the baseline binary, in inputs/; or copied from Fixtures/keras).
INPUTS_MADE_BY = {
    "seed-adam.h5": "cnnkit train --data $DATA --limit 300 --epochs 1 --optimizer adam --batch-size 8 --seed 1 "
                    "--out seed-adam.h5",
    "small-arch.json": "hand-written: two convolutions (bias, stride 2, same padding; no bias, 3x2 kernel), ReLU, "
                       "same-padded max pooling, dense 16 + ReLU, dense 10 + softmax",
    "small-sgd.cnnz": "cnnkit train --data $DATA --arch small-arch.json --limit 300 --epochs 1 --optimizer sgd "
                      "--momentum 0.9 --nesterov --lr 0.2 --batch-size 8 --seed 7 --out small-sgd.cnnz",
    "small-sgd.safetensors": "cnnkit convert small-sgd.cnnz small-sgd.safetensors",
    "small-sgd.npz": "cnnkit convert small-sgd.cnnz small-sgd.npz",
    "keras3_two_conv_adam.keras": "copy of Fixtures/keras/keras3_two_conv_adam.keras (Keras 3.15.1, "
                                  "make_keras3_fixtures.py)",
    "keras3_two_conv_adam.weights.h5": "copy of Fixtures/keras/keras3_two_conv_adam.weights.h5 (Keras 3.15.1)",
    "keras3_two_conv_adam.arch.json": "the `architecture` of `cnnkit inspect --json keras3_two_conv_adam.keras`",
    "bias_relu_adam.h5": "copy of Fixtures/keras/bias_relu_adam.h5 (legacy Keras HDF5, make_fixtures.py)",
}

SEED = "inputs/seed-adam.h5"
SMALL = "inputs/small-sgd.cnnz"
KERAS = "inputs/keras3_two_conv_adam.keras"
KERAS_WEIGHTS = "inputs/keras3_two_conv_adam.weights.h5"
KERAS_ARCH = ["--architecture", "inputs/keras3_two_conv_adam.arch.json"]
LEGACY = "inputs/bias_relu_adam.h5"
# The seed network trains slowly in a debug build: the recipe of seed-adam.h5 on 100 examples instead of 300.
SEED_TRAIN_100 = ["--limit", "100", "--epochs", "1", "--optimizer", "adam", "--batch-size", "8", "--seed", "1"]
# The recipe of small-sgd.cnnz: training it again must give the committed bytes.
SMALL_TRAIN = ["--arch", "inputs/small-arch.json", "--limit", "300", "--epochs", "1", "--optimizer", "sgd",
               "--momentum", "0.9", "--nesterov", "--lr", "0.2", "--batch-size", "8", "--seed", "7"]

# Outputs that must be byte-identical to one another or to a committed input (checked by the test too).
SAME_BYTES = [
    ("train/small-sgd.threads1.h5", "train/small-sgd.threads2.h5"),
    ("train/small-sgd.threads1.cnnz", "train/small-sgd.threads2.cnnz"),
]


def steps():
    """[(NAME, ARGS, KIND, EXPECTED_EXIT)]: KIND `file` (cnnkit writes out/NAME; `{out}` in ARGS) or `stdout`."""
    result = []

    def convert(name, source, *options):
        result.append((name, ["convert", source, "{out}", *options], "file", 0))

    def report(name, *args, expect=0):
        result.append((name, [*args, "--json"], "stdout", expect))

    # Every output format, compression, level, dtype and option, from the seed network trained with Adam.
    for suffix, options in [
        ("h5", []), ("none.h5", ["--compression", "none"]), ("deflate.h5", ["--compression", "deflate"]),
        ("deflate-l0.h5", ["--compression", "deflate", "--level", "0"]),
        ("deflate-l1.h5", ["--compression", "deflate", "--level", "1"]),
        ("deflate-l9.h5", ["--compression", "deflate", "--level", "9"]),
        ("weights-only.h5", ["--weights-only"]),
        ("weights.h5", []), ("deflate-l9.weights.h5", ["--compression", "deflate", "--level", "9"]),
        ("weights-only.weights.h5", ["--weights-only"]),
        ("keras", []), ("deflate-l1.keras", ["--compression", "deflate", "--level", "1"]),
        ("deflate-l9.keras", ["--compression", "deflate", "--level", "9"]),
        ("weights-only.keras", ["--weights-only"]),
        # CNNZ's shuffle-deflate uses zlib's Z_RLE strategy, for which levels 1-9 give the same bytes
        # (Schemas/cnnz.md 5.3): level 0 (stored blocks) is the one that shows the level is passed through.
        ("cnnz", []), ("none.cnnz", ["--compression", "none"]),
        ("deflate-l0.cnnz", ["--compression", "deflate", "--level", "0"]),
        ("deflate-l1.cnnz", ["--compression", "deflate", "--level", "1"]),
        ("deflate-l9.cnnz", ["--compression", "deflate", "--level", "9"]),
        ("float16.cnnz", ["--dtype", "float16"]), ("bfloat16.cnnz", ["--dtype", "bfloat16"]),
        ("float16-deflate-l9.cnnz", ["--dtype", "float16", "--compression", "deflate", "--level", "9"]),
        ("bfloat16-none.cnnz", ["--dtype", "bfloat16", "--compression", "none"]),
        # CNNZ 1.1's shuffle-zstd (the default above) with its level given, and at a high level.
        ("zstd-l1.cnnz", ["--compression", "zstd", "--level", "1"]),
        ("zstd-l19.cnnz", ["--compression", "zstd", "--level", "19"]),
        ("bfloat16-zstd-l3.cnnz", ["--dtype", "bfloat16", "--compression", "zstd", "--level", "3"]),
        ("weights-only.cnnz", ["--weights-only"]), ("no-verify.cnnz", ["--no-verify"]),
        ("safetensors", []), ("weights-only.safetensors", ["--weights-only"]),
        ("npz", []), ("deflate-l1.npz", ["--compression", "deflate", "--level", "1"]),
        ("deflate-l9.npz", ["--compression", "deflate", "--level", "9"]),
        ("weights-only.npz", ["--weights-only"]),
        ("onnx", []),
    ]:
        convert(f"convert/seed-adam.{suffix}", SEED, *options)
    # --to wins over the extension (a neutral .bin, and one misleading extension).
    for fmt in ["hdf5", "cnnz", "keras", "safetensors", "npz", "onnx"]:
        convert(f"to/seed-adam.{fmt}.bin", SEED, "--to", fmt)
    convert("to/seed-adam.cnnz-named.h5", SEED, "--to", "cnnz")

    # Every output format from a model with biases, ReLUs, two convolutions, a hidden dense layer, SGD Nesterov.
    for suffix, options in [("h5", []), ("weights.h5", []), ("keras", []), ("cnnz", []),
                            ("deflate-l9.cnnz", ["--compression", "deflate", "--level", "9"]),
                            ("bfloat16.cnnz", ["--dtype", "bfloat16"]), ("safetensors", []), ("npz", []),
                            ("onnx", [])]:
        convert(f"convert/small-sgd.{suffix}", SMALL, *options)

    # From every input format to CNNZ and HDF5 (and a few more).
    for stem, source, options, suffixes in [
        ("small-sgd.from-safetensors", "inputs/small-sgd.safetensors", [], ["cnnz", "h5"]),
        ("small-sgd.from-npz", "inputs/small-sgd.npz", [], ["cnnz", "h5"]),
        ("keras3-two-conv.from-keras", KERAS, [], ["cnnz", "h5", "keras", "onnx"]),
        ("keras3-two-conv.from-weights", KERAS_WEIGHTS, KERAS_ARCH, ["cnnz", "h5", "weights.h5"]),
        ("bias-relu.from-legacy-h5", LEGACY, [], ["cnnz", "h5", "keras"]),
    ]:
        for suffix in suffixes:
            convert(f"from/{stem}.{suffix}", source, *options)

    # Training writes its model directly; the result does not depend on --threads.
    def train(name, *options):
        result.append((name, ["train", "--data", "{data}", *options, "--out", "{out}"], "file", 0))

    train("train/seed-adam.limit100.threads1.h5", *SEED_TRAIN_100, "--threads", "1")
    train("train/small-sgd.threads1.h5", *SMALL_TRAIN, "--threads", "1")
    train("train/small-sgd.threads2.h5", *SMALL_TRAIN, "--threads", "2")
    train("train/small-sgd.threads1.cnnz", *SMALL_TRAIN, "--threads", "1")
    train("train/small-sgd.threads2.cnnz", *SMALL_TRAIN, "--threads", "2")
    train("train/seed-sgd.epochs0.h5", "--limit", "300", "--epochs", "0")
    train("train/seed-sgd.epochs0.cnnz", "--limit", "300", "--epochs", "0")
    train("train/small-adam.epochs0.keras", "--arch", "inputs/small-arch.json", "--optimizer", "adam",
          "--limit", "300", "--epochs", "0")
    train("train/small-sgd.resumed-epochs2.cnnz", "--resume", SMALL, "--limit", "300", "--epochs", "2")

    # JSON reports (stdout) on inputs and on outputs of the steps above.
    report("inspect/seed-adam.h5.json", "inspect", SEED)
    report("inspect/small-sgd.cnnz.json", "inspect", SMALL)
    report("inspect/keras3-two-conv.keras.json", "inspect", KERAS)
    report("inspect/keras3-two-conv.weights.h5.json", "inspect", KERAS_WEIGHTS, *KERAS_ARCH)
    report("inspect/seed-adam.float16.cnnz.json", "inspect", "out/convert/seed-adam.float16.cnnz")
    report("inspect/small-sgd.keras.json", "inspect", "out/convert/small-sgd.keras")
    report("verify/seed-adam.h5.json", "verify", SEED)
    report("verify/small-sgd.npz.json", "verify", "inputs/small-sgd.npz")
    report("verify/seed-adam.bfloat16.cnnz.json", "verify", "out/convert/seed-adam.bfloat16.cnnz")
    report("verify/keras3-two-conv.h5-against-keras.json", "verify", "out/from/keras3-two-conv.from-keras.h5",
           "--against", KERAS)
    report("diff/seed-adam.h5-vs-cnnz.json", "diff", SEED, "out/convert/seed-adam.cnnz")
    report("diff/seed-adam.h5-vs-float16.cnnz.json", "diff", SEED, "out/convert/seed-adam.float16.cnnz", expect=1)
    report("diff/small-sgd-vs-keras3-two-conv.json", "diff", SMALL, KERAS, expect=1)
    return result


def command_text(name, args):
    """The command as recorded: run in OUTDIR, `$DATA` for the data folder."""
    return "cnnkit " + shlex.join(a.replace("{out}", f"out/{name}").replace("{data}", "$DATA") for a in args)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def normalise_stdout(text, outdir, data):
    """Absolute paths of OUTDIR and the data folder (none appear today: every path passed is relative)."""
    for path in sorted({str(outdir), os.path.realpath(outdir)}, key=len, reverse=True):
        text = text.replace(path + os.sep, "").replace(path, ".")
    for path in sorted({str(data), os.path.realpath(data)}, key=len, reverse=True):
        text = text.replace(path, "$DATA")
    return text


def run_step(cnnkit, outdir, data, step, extra_env=None):
    name, args, kind, expect = step
    target = outdir / "out" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(cnnkit), *(a.replace("{out}", f"out/{name}").replace("{data}", str(data)) for a in args)]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CNNKIT_")}, **(extra_env or {})}
    entry = {"command": command_text(name, args), "kind": kind, "exit": expect}
    started = time.monotonic()
    try:
        result = subprocess.run(argv, cwd=outdir, env=env, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return name, {**entry, "error": "timed out after 300 s"}
    if result.returncode != expect:
        stderr = result.stderr.decode(errors="replace").strip()[-2000:]
        error = f"exit {result.returncode}, expected {expect}: {stderr}"
        return name, {**entry, "exit": result.returncode, "error": error}
    if kind == "stdout":
        target.write_text(normalise_stdout(result.stdout.decode(), outdir, data))
    if not target.is_file():
        return name, {**entry, "error": f"no output file out/{name}"}
    data_bytes = target.read_bytes()
    return name, {**entry, "sha256": sha256(data_bytes), "bytes": len(data_bytes),
                  "seconds": round(time.monotonic() - started, 2)}


def generate(cnnkit, outdir, data, jobs, extra_env=None):
    """Runs every step into OUTDIR; returns and writes the manifest."""
    outdir.mkdir(parents=True, exist_ok=True)
    if any(outdir.iterdir()) and not (outdir / "manifest.json").exists():
        sys.exit(f"{outdir} is not empty and holds no manifest.json from an earlier run; refusing to write into it")
    for owned in ["inputs", "out", "manifest.json"]:
        path = outdir / owned
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copytree(INPUTS, outdir / "inputs")
    all_steps = steps()
    names = [s[0] for s in all_steps]
    assert len(names) == len(set(names)), "duplicate output names"
    # Reports on out/ files run after everything else has been written; training takes longest and starts first.
    first = sorted((s for s in all_steps if not any(a.startswith("out/") for a in s[1])),
                   key=lambda s: s[1][0] != "train")
    second = [s for s in all_steps if s not in first]
    outputs = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for stage in (first, second):
            outputs.update(pool.map(lambda s: run_step(cnnkit, outdir, data, s, extra_env), stage))
    manifest = {"cnnkit": str(cnnkit), "libraries": library_versions(cnnkit),
                "outputs": {n: outputs[n] for n in sorted(outputs)}}
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def library_versions(cnnkit):
    """The libhdf5, zlib and libzstd versions the binary loads: HDF5, deflate and zstd bytes depend on them."""
    versions = {}
    try:
        ldd = subprocess.run(["ldd", str(cnnkit)], capture_output=True, text=True, timeout=60).stdout
    except OSError:
        return versions
    for key, pattern, read in [
        ("libhdf5", r"libhdf5\S*\.so\S* => (\S+)", hdf5_version),
        ("zlib", r"libz\.so\S* => (\S+)", zlib_version),
        ("libzstd", r"libzstd\.so\S* => (\S+)", zstd_version),
    ]:
        match = re.search(pattern, ldd)
        if match:
            try:
                versions[key] = read(match.group(1))
            except (OSError, AttributeError):
                pass
    return versions


def hdf5_version(lib):
    major, minor, release = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    ctypes.CDLL(lib).H5get_libversion(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(release))
    return f"{major.value}.{minor.value}.{release.value}"


def zstd_version(lib):
    function = ctypes.CDLL(lib).ZSTD_versionString
    function.restype = ctypes.c_char_p
    return function().decode()


def zlib_version(lib):
    function = ctypes.CDLL(lib).zlibVersion
    function.restype = ctypes.c_char_p
    return function().decode()


def compare(manifest, recorded):
    """Human-readable lines, one per output that differs from hashes.json."""
    problems = []
    produced, expected = manifest["outputs"], recorded["outputs"]
    for name in sorted(set(produced) | set(expected)):
        got, want = produced.get(name), expected.get(name)
        if want is None:
            problems.append(f"{name}: produced but not recorded ({got['command']})")
        elif got is None:
            problems.append(f"{name}: recorded but no longer produced ({want['command']})")
        elif "error" in got:
            problems.append(f"{name}: {got['command']} failed: {got['error']}")
        elif got["sha256"] != want["sha256"]:
            problems.append(f"{name}: {got['command']} gave sha256 {got['sha256']} ({got['bytes']} bytes), "
                            f"recorded {want['sha256']} ({want['bytes']} bytes)")
    return problems


RERUN_ENV = {"MALLOC_PERTURB_": "165", "TZ": "Pacific/Chatham", "LC_ALL": "POSIX", "LANG": "POSIX"}


def record(args, cnnkit):
    # The second run differs in everything that must not matter: folder, time, time zone, locale, the order
    # steps run in (one at a time), and what uninitialised heap memory holds (glibc's MALLOC_PERTURB_).
    runs = [generate(cnnkit, args.outdir, args.data, args.jobs),
            generate(cnnkit, args.outdir.with_name(args.outdir.name + "-again"), args.data, 1, RERUN_ENV)]
    failed = [f"{n}: {e['command']}: {e['error']}" for n, e in runs[0]["outputs"].items() if "error" in e]
    if failed:
        sys.exit("steps failed, nothing recorded:\n  " + "\n  ".join(failed))
    unstable = [n for n, e in runs[0]["outputs"].items() if e["sha256"] != runs[1]["outputs"][n].get("sha256")]
    if unstable:
        sys.exit("not deterministic (two runs differ), nothing recorded:\n  " + "\n  ".join(unstable))
    inputs = {p.name: {"sha256": sha256(p.read_bytes()), "bytes": p.stat().st_size, "made_by": INPUTS_MADE_BY[p.name]}
              for p in sorted(INPUTS.iterdir())}
    broken = same_bytes_problems(runs[0], inputs)
    if broken:
        sys.exit("outputs that must be equal are not, nothing recorded:\n  " + "\n  ".join(broken))
    previous = json.loads(HASHES.read_text()) if HASHES.exists() else {"outputs": {}, "deliberate_changes": {}}
    deliberate = previous.get("deliberate_changes", {})
    unexplained = [n for n, mark in deliberate.items() if n not in runs[0]["outputs"] or not mark.get("reason")]
    if unexplained:
        sys.exit("deliberate_changes entries must name an output and give a reason:\n  " + "\n  ".join(unexplained))
    changed = [n for n, e in runs[0]["outputs"].items()
               if n in previous["outputs"] and previous["outputs"][n]["sha256"] != e["sha256"]]
    unmarked = [n for n in changed if n not in deliberate]
    if unmarked and not args.force:
        sys.exit("these outputs changed but deliberate_changes in hashes.json does not name them (add each with "
                 "a reason, or pass --force), nothing recorded:\n  " + "\n  ".join(unmarked))
    for name in changed:
        if name in deliberate:
            # The hash before the first deliberate change of this output (kept across later re-recordings).
            deliberate[name].setdefault("sha256_before", previous["outputs"][name]["sha256"])
    removed = sorted(set(previous["outputs"]) - set(runs[0]["outputs"]))
    outputs = {n: {k: e[k] for k in ("command", "kind", "exit", "sha256", "bytes")}
               for n, e in runs[0]["outputs"].items()}
    document = {
        "about": "SHA-256 of every output of make_golden.py (run it in OUTDIR, $DATA = the Fashion-MNIST folder), "
                 "checked by Tests/Interop/test_byte_identity.py. Re-record only for a deliberate format change: "
                 "see README.md.",
        "comparison": "Every output is compared byte for byte (`kind: file`: the file cnnkit wrote; `kind: stdout`: "
                      "the --json stdout, with absolute paths of OUTDIR and $DATA replaced, though none appear). "
                      "No output needs a normalised form: --record ran everything twice, the second time in "
                      "another folder, one step at a time, with " + json.dumps(RERUN_ENV) + ", and got the same "
                      "bytes for every output (.keras members carry the fixed date 1980-01-01 and metadata.json "
                      "date_saved 1980-01-01@00:00:00; HDF5 objects are written without modification times).",
        "recorded_with": {"cnnkit_sha256": sha256(cnnkit.read_bytes()), **runs[0]["libraries"]},
        "deliberate_changes": deliberate,
        "same_bytes": [list(pair) for pair in SAME_BYTES],
        "inputs": inputs,
        "outputs": outputs,
    }
    HASHES.write_text(json.dumps(document, indent=1) + "\n")
    print(f"recorded {len(outputs)} outputs in {HASHES}"
          + (f"\nchanged (deliberate): {', '.join(changed)}" if changed else "")
          + (f"\nno longer produced: {', '.join(removed)}" if removed else ""))


def same_bytes_problems(manifest, inputs):
    """Pairs of SAME_BYTES whose hashes differ (`input:NAME` is a committed input)."""
    def digest(name):
        if name.startswith("input:"):
            return inputs[name[len("input:"):]]["sha256"]
        return manifest["outputs"][name].get("sha256")

    return [f"{a} != {b}" for a, b in SAME_BYTES if digest(a) is None or digest(a) != digest(b)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cnnkit", type=Path, help="the cnnkit binary")
    parser.add_argument("outdir", type=Path, help="folder for the outputs (created; must be empty or a former OUTDIR)")
    parser.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="Fashion-MNIST IDX folder")
    parser.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    parser.add_argument("--record", action="store_true", help="run twice, check determinism, rewrite hashes.json")
    parser.add_argument("--force", action="store_true", help="with --record: record changes deliberate_changes "
                                                             "does not name")
    args = parser.parse_args()
    cnnkit = args.cnnkit.resolve()
    args.outdir = args.outdir.resolve()
    args.data = args.data.resolve()
    if args.record:
        return record(args, cnnkit)
    manifest = generate(cnnkit, args.outdir, args.data, args.jobs)
    problems = compare(manifest, json.loads(HASHES.read_text()))
    print("\n".join(problems) or f"all {len(manifest['outputs'])} outputs match hashes.json")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
