"""Writes the safetensors fixtures CNNKit's reader is tested against, with the Python safetensors package.

Run from the package root with the pinned venv:

    .venv/bin/python Fixtures/safetensors/make_fixtures.py

Pinned: safetensors 0.8.0, numpy 2.4.6 (checked below). The model is a tiny network (`tiny.arch.json`: 6x6x1
input, conv2d 2 filters 3x3 with bias, relu, 2x2 max-pool, flatten, dense 3, softmax) so that the files stay
small. Values come from a fixed NumPy generator. Files:

- `tiny_plain.safetensors`: `safetensors.numpy.save_file` of the three parameters as float32, no metadata
  (reading it needs `tiny.arch.json`);
- `tiny_mixed_dtypes.safetensors`: the same parameters as F64 (conv kernel), F16 (conv bias) and F32 (dense):
  every value is on a 1/64 grid, exact in each dtype, so the float32 values read back are exact;
- `tiny_with_metadata.safetensors`: float32 parameters with CNNKit's `__metadata__` (`cnnkit.format_version`,
  `cnnkit.architecture`) so that it reads without an architecture;
- `tiny.expected.json`: `{"tensors": {name: {"shape", "values"}}, "inputs": [...], "outputs": [...]}` with the
  float32 parameter values and a NumPy forward pass of the tiny network on 3 raw-pixel inputs.
"""

import json
import os

import numpy as np
import safetensors
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = {"safetensors": "0.8.0", "numpy": "2.4.6"}

ARCH = {
    "input": {"height": 6, "width": 6, "channels": 1},
    "layers": [
        {"type": "conv2d", "name": "conv2d", "filters": 2, "kernel": [3, 3], "bias": True},
        {"type": "relu", "name": "re_lu"},
        {"type": "maxpool2d", "name": "max_pooling2d", "pool": [2, 2]},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "dense", "units": 3, "bias": True},
        {"type": "softmax", "name": "softmax"},
    ],
}


def parameters(rng):
    """Float32 values on a 1/64 grid: exact in float16 and float64 too."""
    def grid(shape):
        return (rng.integers(-64, 65, size=shape) / 64.0).astype(np.float32)
    return {
        "conv2d.kernel": grid((3, 3, 1, 2)),
        "conv2d.bias": grid((2,)),
        "dense.kernel": grid((8, 3)),
        "dense.bias": grid((3,)),
    }


def forward(p, images):
    """The tiny network in float64: preprocessing, conv (cross-correlation, valid), relu, pool, HWC flatten."""
    x = images.astype(np.float64) / 255.0 - 0.5
    k = p["conv2d.kernel"].astype(np.float64)
    n, h, w, _ = x.shape
    conv = np.zeros((n, h - 2, w - 2, 2))
    for i in range(h - 2):
        for j in range(w - 2):
            conv[:, i, j, :] = np.einsum("nyxc,yxco->no", x[:, i:i + 3, j:j + 3, :], k)
    conv = np.maximum(conv + p["conv2d.bias"], 0)
    pooled = conv.reshape(n, 2, 2, 2, 2, 2).max(axis=(2, 4))
    logits = pooled.reshape(n, -1) @ p["dense.kernel"].astype(np.float64) + p["dense.bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    assert safetensors.__version__ == PINS["safetensors"] and np.__version__ == PINS["numpy"], "use the pinned venv"
    rng = np.random.default_rng(20240506)
    p = parameters(rng)
    with open(os.path.join(HERE, "tiny.arch.json"), "w") as f:
        json.dump(ARCH, f, indent=1)
    save_file(p, os.path.join(HERE, "tiny_plain.safetensors"))
    mixed = dict(p)
    mixed["conv2d.kernel"] = p["conv2d.kernel"].astype(np.float64)
    mixed["conv2d.bias"] = p["conv2d.bias"].astype(np.float16)
    save_file(mixed, os.path.join(HERE, "tiny_mixed_dtypes.safetensors"))
    metadata = {"cnnkit.format_version": "1", "cnnkit.architecture": json.dumps(ARCH), "note": "made by make_fixtures.py"}
    save_file(p, os.path.join(HERE, "tiny_with_metadata.safetensors"), metadata=metadata)
    images = rng.integers(0, 256, size=(3, 6, 6, 1)).astype(np.uint8)
    expected = {
        "tensors": {k: {"shape": list(v.shape), "values": v.ravel().tolist()} for k, v in p.items()},
        "inputs": images.tolist(),
        "outputs": forward(p, images).tolist(),
    }
    with open(os.path.join(HERE, "tiny.expected.json"), "w") as f:
        json.dump(expected, f)
    for name in os.listdir(HERE):
        os.chmod(os.path.join(HERE, name), 0o644)  # save_file writes 0600 (temp file + rename)


if __name__ == "__main__":
    main()
