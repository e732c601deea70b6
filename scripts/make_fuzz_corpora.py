#!/usr/bin/env python3
"""Makes the seed corpora of the fuzz targets (scripts/fuzz.sh) from small files: Fixtures/<format>/corpus.

    python3 scripts/make_fuzz_corpora.py .build/debug/cnnkit [MODE...]

With MODEs (cnnz, h5, weights.h5, keras, safetensors, npz, pt, onnx), only those corpora are remade (and the libhdf5
hang fixtures only with h5 or weights.h5).

What goes in (Documentation/fuzzing.md):

- models trained by CNNKit on a 6x6 IDX data set made here (so that the files are small but carry a training
  state, probes and digests): the architecture of Fixtures/safetensors/tiny.arch.json, SGD with momentum and
  Adam, each saved and converted to every format, with and without deflate, and --weights-only;
- the small fixtures made by other tools (Keras, h5py, safetensors, numpy, torch) in Fixtures/ and
  Fixtures/golden/inputs (those under 64 KiB).

Other files are kept (the CNNZ corpus' hand-made `broken-*` files, the `regression-*` files of what the fuzz
targets and the mutation test found): the script only replaces the files it makes itself (names starting
`seed-`) and the copied fixtures (`fixture-`).
Uses only the Python standard library and the cnnkit binary.
"""

import gzip
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "Fixtures"
MAX_BYTES = 64 * 1024

# Corpus folder per fuzz mode (CNNKIT_FUZZ_FORMAT), and the output extension cnnkit writes for it.
CORPORA = {
    "cnnz": (FIXTURES / "cnnz" / "corpus", ".cnnz"),
    "h5": (FIXTURES / "hdf5" / "corpus", ".h5"),
    "weights.h5": (FIXTURES / "hdf5" / "weights-corpus", ".weights.h5"),
    "keras": (FIXTURES / "keras" / "corpus", ".keras"),
    "safetensors": (FIXTURES / "safetensors" / "corpus", ".safetensors"),
    "npz": (FIXTURES / "npz" / "corpus", ".npz"),
    "pt": (FIXTURES / "pytorch" / "corpus", ".pt"),
    "onnx": (FIXTURES / "onnx" / "corpus", ".onnx"),
}

# Outside-tool fixtures per mode (small ones only; checked against MAX_BYTES).
OUTSIDE = {
    "cnnz": [],
    "h5": ["keras/dense_hidden_nesterov.h5", "keras/unsupported_dropout.h5", "keras/unsupported_dilation.h5",
           "keras/bias_relu_adam.h5", "keras/two_conv_stride_same.h5"],
    "weights.h5": ["keras/keras3_two_conv_adam.weights.h5"],
    "keras": ["keras/keras3_two_conv_adam.keras", "keras/keras3_unsupported_dropout.keras"],
    "safetensors": ["safetensors/tiny_plain.safetensors", "safetensors/tiny_mixed_dtypes.safetensors",
                    "safetensors/tiny_with_metadata.safetensors"],
    "npz": ["npz/tiny_savez.npz", "npz/tiny_npy_versions.npz", "npz/tiny_variants.npz", "npz/seed_layout.npz"],
    "pt": ["pytorch/conv_relu_pool.pt", "pytorch/two_conv_inferred.pt", "pytorch/two_conv_hidden.pt", "pytorch/float16.pt",
           "pytorch/bfloat16.pt", "pytorch/float64.pt", "pytorch/strided.pt", "pytorch/ambiguous.pt", "pytorch/legacy.pt",
           "pytorch/torchscript.pt"],
    "onnx": ["onnx/conv_pre.onnx", "onnx/two_conv_softmax.onnx", "onnx/matmul_reshape.onnx", "onnx/unsupported_tanh.onnx"],
}


def global_heap_objects(data: bytes):
    """Every object of every global heap collection (signature GCOL, version 1) found in the file:
    (object header offset, collection offset, heap index, size, object bytes)."""
    objects = []
    at = data.find(b"GCOL")
    while at >= 0:
        size = int.from_bytes(data[at + 8:at + 16], "little")
        p = at + 16
        while data[at + 4] == 1 and p + 16 <= at + size:
            index = int.from_bytes(data[p:p + 2], "little")
            length = int.from_bytes(data[p + 8:p + 16], "little")
            objects.append((p, at, index, length, data[p + 16:p + 16 + length]))
            if index == 0:
                break
            p += 16 + (length + 7) // 8 * 8
        at = data.find(b"GCOL", at + 4)
    return objects


def heap_hang(data: bytes):
    """The recipe of Fixtures/hdf5/hang: zero the 16-byte global heap object header (heap index, reference count,
    reserved, size) of the `/cnnkit` architecture string. libhdf5 1.10.8 then reads a free-space object of size
    0 while loading the collection and never advances (H5HG__cache_heap_deserialize under H5C_protect)."""
    for header, collection, index, length, body in global_heap_objects(data):
        if body.startswith(b'{"input":') and b'"layers"' in body:
            out = bytearray(data)
            out[header:header + 16] = bytes(16)
            return bytes(out), header, collection, index, data[header:header + 16]
    raise AssertionError("no global heap object holds the architecture JSON")


# The libhdf5 hang fixtures (Fixtures/hdf5/hang/README.md): source corpus file -> fixture name.
HANG_CASES = {
    "h5": ("Fixtures/hdf5/corpus/seed-sgd.h5", "arch-heap-header-zeroed.h5"),
    "weights.h5": ("Fixtures/hdf5/weights-corpus/seed-sgd.weights.h5", "arch-heap-header-zeroed.weights.h5"),
}


def idx(kind: int, dims, payload: bytes) -> bytes:
    return struct.pack(">BBBB", 0, 0, kind, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write_data(folder: Path, train: int = 48, test: int = 8, size: int = 6):
    """A 6x6 IDX data set of 3 classes (the tiny architecture has 3 outputs): a bright square whose position
    depends on the label, plus noise."""
    rng = random.Random(0)
    for split, count in (("train", train), ("t10k", test)):
        images, labels = bytearray(), bytearray()
        for _ in range(count):
            label = rng.randrange(3)
            pixels = [rng.randrange(40) for _ in range(size * size)]
            r, c = label, 2 * label
            for dr in range(2):
                for dc in range(2):
                    pixels[(r + dr) * size + c + dc] = 200 + rng.randrange(56)
            images += bytes(pixels)
            labels.append(label)
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(8, [count, size, size], bytes(images)), mtime=0))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(8, [count], bytes(labels)), mtime=0))


def run(cnnkit, *args):
    result = subprocess.run([str(cnnkit), *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cnnkit {' '.join(map(str, args))} exited {result.returncode}: {result.stderr}")


def main():
    if len(sys.argv) < 2 or any(mode not in CORPORA for mode in sys.argv[2:]):
        sys.exit(__doc__)
    cnnkit = Path(sys.argv[1]).resolve()
    modes = sys.argv[2:] or list(CORPORA)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data = scratch / "data"
        data.mkdir()
        write_data(data)
        arch = FIXTURES / "safetensors" / "tiny.arch.json"
        models = {
            "sgd": scratch / "sgd.cnnz",
            "adam": scratch / "adam.cnnz",
        }
        run(cnnkit, "train", "--data", data, "--arch", arch, "--epochs", "1", "--batch-size", "4", "--momentum", "0.9",
            "--nesterov", "--threads", "1", "--out", models["sgd"])
        run(cnnkit, "train", "--data", data, "--arch", arch, "--epochs", "1", "--batch-size", "8", "--optimizer", "adam",
            "--threads", "1", "--out", models["adam"])
        for mode in modes:
            folder, ext = CORPORA[mode]
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                if old.name.startswith(("seed-", "fixture-")):
                    old.unlink()
            variants = [("", [])]
            if mode in ("h5", "weights.h5", "keras", "npz"):
                variants.append(("-deflate", ["--compression", "deflate"]))
            if mode == "cnnz":
                variants += [("-raw", ["--compression", "none"]), ("-float16", ["--dtype", "float16"])]
            variants.append(("-weights-only", ["--weights-only"]))
            for name, source in models.items():
                for suffix, options in variants:
                    out = folder / f"seed-{name}{suffix}{ext}"
                    run(cnnkit, "convert", source, out, *options)
            for relative in OUTSIDE[mode]:
                source = FIXTURES / relative
                assert source.stat().st_size <= MAX_BYTES, f"{source} is over {MAX_BYTES} bytes"
                shutil.copyfile(source, folder / ("fixture-" + source.name))
            sizes = sorted(p.stat().st_size for p in folder.iterdir() if p.name != "README.md")
            print(f"{folder.relative_to(ROOT)}: {len(sizes)} files, largest {sizes[-1]} bytes")
    hang = FIXTURES / "hdf5" / "hang"
    hang.mkdir(parents=True, exist_ok=True)
    for mode, (source, name) in HANG_CASES.items():
        if mode not in modes:
            continue
        hung, header, collection, index, before = heap_hang((ROOT / source).read_bytes())
        (hang / name).write_bytes(hung)
        print(f"{(hang / name).relative_to(ROOT)}: {source} with bytes [{header}, {header + 16}) zeroed "
              f"(global heap collection at {collection}, object {index}; were {before.hex()})")


if __name__ == "__main__":
    main()
