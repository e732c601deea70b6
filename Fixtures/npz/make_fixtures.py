"""Writes the NumPy .npz fixtures CNNKit's reader is tested against.

Run from the package root with the pinned venv:

    .venv/bin/python Fixtures/npz/make_fixtures.py

Pinned: numpy 2.4.6 (checked below). Files:

- `tiny_savez.npz`: `numpy.savez` (stored members, .npy v1.0, C order, `<f4`) of the tiny network's parameters
  under CNNKit's names (architecture: `Fixtures/safetensors/tiny.arch.json`, the same network and values as the
  safetensors fixtures); reading it needs the architecture;
- `tiny_variants.npz`: `numpy.savez_compressed` (deflated members) of the same parameters as big-endian float64
  in Fortran order (`conv2d.kernel`), `<f8` Fortran order (`dense.kernel`), `>f4` (`conv2d.bias`) and `<f4`;
- `tiny_npy_versions.npz`: a zip written with `zipfile` whose members are .npy format 2.0 and 3.0 (written by
  `numpy.lib.format.write_array(version=...)`);
- `seed_layout.npz`: the original NumPy "CNN from scratch" seed's objects saved with `numpy.savez`: `filters`
  (2, 3, 3) float64, `weights` (338, 10) float64, `biases` (10,) float64, and the layers' `last_input`,
  `last_input_shape`, `last_totals` caches from one forward pass (which a reader ignores);
- `seed_layout.inputs.npy` (4, 28, 28) uint8 and `seed_layout.expected.json` `{"outputs": [[...]]}`: the seed's
  own forward pass (its loops, in float64) on those images.
"""

import io
import json
import os
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = {"numpy": "2.4.6"}


class Conv3x3:
    """The seed's convolution: valid, stride 1, no bias, `filters` (n, 3, 3) initialised N(0,1)/9."""

    def __init__(self, num_filters, rng):
        self.num_filters = num_filters
        self.filters = rng.standard_normal((num_filters, 3, 3)) / 9

    def forward(self, image):
        self.last_input = image
        h, w = image.shape
        output = np.zeros((h - 2, w - 2, self.num_filters))
        for i in range(h - 2):
            for j in range(w - 2):
                output[i, j] = np.sum(image[i:i + 3, j:j + 3] * self.filters, axis=(1, 2))
        return output


class MaxPool2:
    def forward(self, x):
        self.last_input = x
        h, w, f = x.shape
        output = np.zeros((h // 2, w // 2, f))
        for i in range(h // 2):
            for j in range(w // 2):
                output[i, j] = np.amax(x[i * 2:i * 2 + 2, j * 2:j * 2 + 2], axis=(0, 1))
        return output


class Softmax:
    def __init__(self, input_len, nodes, rng):
        self.weights = rng.standard_normal((input_len, nodes)) / input_len
        self.biases = rng.standard_normal(nodes) / 10  # the seed starts at 0; nonzero tests the mapping

    def forward(self, x):
        self.last_input_shape = np.array(x.shape)
        x = x.flatten()
        self.last_input = x
        totals = np.dot(x, self.weights) + self.biases
        self.last_totals = totals
        e = np.exp(totals)
        return e / np.sum(e, axis=0)


def tiny_parameters():
    rng = np.random.default_rng(20240506)  # the safetensors fixtures' generator and order
    def grid(shape):
        return (rng.integers(-64, 65, size=shape) / 64.0).astype(np.float32)
    return {"conv2d.kernel": grid((3, 3, 1, 2)), "conv2d.bias": grid((2,)), "dense.kernel": grid((8, 3)), "dense.bias": grid((3,))}


def main():
    assert np.__version__ == PINS["numpy"], "use the pinned venv"
    p = tiny_parameters()
    np.savez(os.path.join(HERE, "tiny_savez.npz"), **p)
    variants = {
        "conv2d.kernel": np.asfortranarray(p["conv2d.kernel"].astype(">f8")),
        "conv2d.bias": p["conv2d.bias"].astype(">f4"),
        "dense.kernel": np.asfortranarray(p["dense.kernel"].astype("<f8")),
        "dense.bias": p["dense.bias"],
    }
    np.savez_compressed(os.path.join(HERE, "tiny_variants.npz"), **variants)
    with zipfile.ZipFile(os.path.join(HERE, "tiny_npy_versions.npz"), "w") as z:
        for i, (name, value) in enumerate(p.items()):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value, version=(2, 0) if i % 2 == 0 else (3, 0))
            z.writestr(name + ".npy", buffer.getvalue())

    rng = np.random.default_rng(7)
    conv, pool, softmax = Conv3x3(2, rng), MaxPool2(), Softmax(13 * 13 * 2, 10, rng)
    images = rng.integers(0, 256, size=(4, 28, 28)).astype(np.uint8)
    outputs = [softmax.forward(pool.forward(conv.forward(image / 255 - 0.5))).tolist() for image in images]
    np.savez(os.path.join(HERE, "seed_layout.npz"), filters=conv.filters, weights=softmax.weights, biases=softmax.biases,
             last_input=softmax.last_input, last_input_shape=softmax.last_input_shape, last_totals=softmax.last_totals)
    np.save(os.path.join(HERE, "seed_layout.inputs.npy"), images)
    with open(os.path.join(HERE, "seed_layout.expected.json"), "w") as f:
        json.dump({"outputs": outputs}, f)


if __name__ == "__main__":
    main()
