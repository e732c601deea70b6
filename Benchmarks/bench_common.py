"""What the PyTorch and JAX benchmarks share: the Fashion-MNIST IDX reader, the recipe constants, the flags."""

import argparse
import gzip
import os
import struct

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LEARNING_RATE = 0.005

# The networks of the benchmark table (Benchmarks/README.md). The seed has its own model code in each script;
# the others are conv(c1) - relu - pool - conv(c2) - relu - pool - flatten - dense(units) - relu - dense 10,
# 3x3 valid convolutions with bias, trained with Adam (lr 0.001).
NETWORKS = {
    "seed": None,
    "two-conv": {"convs": (32, 64), "units": 128, "learning_rate": 0.001},
    "wide": {"convs": (64, 128), "units": 256, "learning_rate": 0.001},
}


def read_idx(path):
    """Reads a gzip'd IDX file (magic 00 00 08 ndim, big-endian uint32 dims, then bytes)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} bytes of data, found {body.size}")
    return body.reshape(dims)


def load(split, limit=None, label_dtype=np.int64):
    """Images (N, 28, 28) uint8 and labels of one split, optionally only the first `limit`."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return np.ascontiguousarray(images), labels.astype(label_dtype)


def parse_args(description, threads_help):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--images", type=int, default=20000, help="training images to time over (default 20000)")
    p.add_argument("--threads", type=int, default=2, help=threads_help)
    p.add_argument("--accuracy", action="store_true", help="also train 1 epoch on all 60000 at batch 1, report test accuracy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--network", choices=sorted(NETWORKS), default="seed", help="network to time (default seed)")
    return p.parse_args()
