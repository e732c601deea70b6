"""Writes the Keras 3 legacy .h5 fixtures CNNKit's HDF5 reader is tested against.

Run from the package root with the pinned venv:

    KERAS_BACKEND=jax .venv/bin/python Fixtures/keras/make_fixtures.py

Pinned: keras 3.15.1, jax[cpu] 0.10.2, h5py 3.16.0, numpy 2.4.6 (checked below).

Each model is built in a fresh Python process so that Keras' automatic layer names start from scratch
(`conv2d`, `conv2d_1`, ...). For every fixture NAME the script writes:

- `NAME.h5`: `model.save("NAME.h5")`, a Keras legacy full-model file;
- `NAME.expected.json`: `{"inputs": [[...]], "input_shape": [n, h, w, c], "outputs": [[...]]}`: raw inputs
  (before the model's own preprocessing) and Keras' float32 predictions for them.

It also derives `variant_f64_be_fixedstr.h5` from `bias_relu_adam.h5` with h5py: every dataset as big-endian
float64 and every string attribute as a fixed-length byte string, to test those encodings (same predictions as
the source file, so it shares `bias_relu_adam.expected.json`).
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = {"keras": "3.15.1", "jax": "0.10.2", "h5py": "3.16.0", "numpy": "2.4.6"}
FIXTURES = [
    "seed_sgd_momentum",
    "bias_relu_adam",
    "two_conv_stride_same",
    "dense_hidden_nesterov",
    "unsupported_dropout",
    "unsupported_dilation",
]


def check_pins():
    import h5py
    import jax
    import keras
    import numpy

    found = {"keras": keras.__version__, "jax": jax.__version__, "h5py": h5py.__version__, "numpy": numpy.__version__}
    if found != PINS:
        sys.exit(f"pinned versions {PINS} expected, found {found}")


def build(name):
    """Builds, trains if the fixture says so, and saves one model; returns (model, inputs)."""
    import keras
    import numpy as np
    from keras import layers

    keras.utils.set_random_seed(1234)
    rng = np.random.default_rng(42)

    def pixels(n, h, w, c):
        return rng.integers(0, 256, size=(n, h, w, c)).astype("float32")

    def fit(model, optimizer, h, w, c, classes, steps=3, batch=8):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x = pixels(steps * batch, h, w, c)
        y = rng.integers(0, classes, size=(steps * batch,))
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)

    if name == "seed_sgd_momentum":
        # The seed architecture: conv 16 3x3 no bias, 2x2 pool, dense 10 softmax, SGD with momentum.
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Rescaling(1.0 / 255.0, offset=-0.5),
            layers.Conv2D(16, 3, use_bias=False),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ])
        fit(model, keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), 28, 28, 1, 10)
        inputs = pixels(4, 28, 28, 1)
    elif name == "bias_relu_adam":
        # Conv with bias and relu activation, Adam-trained.
        model = keras.Sequential([
            keras.Input((12, 12, 1)),
            layers.Rescaling(1.0 / 255.0),
            layers.Conv2D(6, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ])
        fit(model, keras.optimizers.Adam(learning_rate=0.01), 12, 12, 1, 10)
        inputs = pixels(4, 12, 12, 1)
    elif name == "two_conv_stride_same":
        # No Rescaling (scale 1, offset 0), two convs, stride 2, same padding, ReLU and Softmax layers, 3
        # channels, not compiled (no training config, no optimizer weights).
        model = keras.Sequential([
            keras.Input((11, 10, 3)),
            layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(5, (3, 2), padding="same", use_bias=False),
            layers.ReLU(),
            layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
            layers.Flatten(),
            layers.Dense(7),
            layers.Softmax(),
        ])
        inputs = rng.random(size=(3, 11, 10, 3)).astype("float32")
    elif name == "dense_hidden_nesterov":
        # Activation layers, a hidden dense layer with relu, Dense with no bias, SGD with Nesterov momentum.
        model = keras.Sequential([
            keras.Input((8, 8, 2)),
            layers.Rescaling(0.5, offset=-1.0),
            layers.Conv2D(3, 2, strides=(2, 1), use_bias=True),
            layers.Activation("relu"),
            layers.Flatten(),
            layers.Dense(8, activation="relu", use_bias=False),
            layers.Dense(4),
            layers.Activation("softmax"),
        ])
        fit(model, keras.optimizers.SGD(learning_rate=0.05, momentum=0.5, nesterov=True), 8, 8, 2, 4)
        inputs = rng.integers(0, 4, size=(5, 8, 8, 2)).astype("float32")
    elif name == "unsupported_dropout":
        model = keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(), layers.Dropout(0.5), layers.Dense(2, activation="softmax")])
        inputs = pixels(1, 4, 4, 1)
    elif name == "unsupported_dilation":
        model = keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 2, dilation_rate=2), layers.Flatten(),
                                  layers.Dense(2, activation="softmax")])
        inputs = pixels(1, 6, 6, 1)
    else:
        sys.exit(f"unknown fixture {name}")
    return model, inputs


def make_one(name):
    import numpy as np

    model, inputs = build(name)
    path = os.path.join(HERE, f"{name}.h5")
    if os.path.exists(path):
        os.remove(path)
    model.save(path)
    outputs = np.asarray(model.predict(inputs, verbose=0), dtype="float32")
    expected = {
        "input_shape": list(inputs.shape),
        "inputs": [[float(v) for v in row.reshape(-1)] for row in inputs],
        "outputs": [[float(v) for v in row] for row in outputs],
    }
    with open(os.path.join(HERE, f"{name}.expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")


def make_variant():
    """Big-endian float64 datasets and fixed-length string attributes, copied from bias_relu_adam.h5."""
    import h5py
    import numpy as np

    source = os.path.join(HERE, "bias_relu_adam.h5")
    target = os.path.join(HERE, "variant_f64_be_fixedstr.h5")
    if os.path.exists(target):
        os.remove(target)

    def fixed(value):
        if isinstance(value, str):
            return np.bytes_(value.encode("utf8"))
        if isinstance(value, bytes):
            return np.bytes_(value)
        if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
            items = [v.encode("utf8") if isinstance(v, str) else bytes(v) for v in value]
            return np.array(items, dtype=f"S{max([len(i) for i in items] + [1])}")
        return value

    def copy_attrs(src, dst):
        for key, value in src.attrs.items():
            dst.attrs[key] = fixed(value)

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        copy_attrs(src, dst)

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                copy_attrs(obj, dst.require_group(name))
            else:
                data = obj[()]
                dtype = ">f8" if data.dtype.kind == "f" else data.dtype.newbyteorder(">")
                dset = dst.create_dataset(name, data=np.asarray(data).astype(dtype))
                copy_attrs(obj, dset)

        src.visititems(visit)


def main():
    if len(sys.argv) == 2:
        check_pins()
        make_one(sys.argv[1])
        return
    env = dict(os.environ, KERAS_BACKEND="jax")
    for name in FIXTURES:
        subprocess.run([sys.executable, os.path.abspath(__file__), name], check=True, env=env)
    make_variant()


if __name__ == "__main__":
    main()
