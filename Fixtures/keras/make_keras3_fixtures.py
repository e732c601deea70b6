"""Writes the Keras 3 `.keras` and `.weights.h5` fixtures CNNKit's Keras 3 readers are tested against.

Run from the package root with the pinned venv:

    KERAS_BACKEND=jax .venv/bin/python Fixtures/keras/make_keras3_fixtures.py

Pinned: keras 3.15.1, jax[cpu] 0.10.2, h5py 3.16.0, numpy 2.4.6 (checked below).

Each model is built in a fresh Python process so that Keras' automatic layer names start from scratch. For
every fixture NAME the script writes:

- `NAME.keras`: `model.save("NAME.keras")`, a zip of metadata.json, config.json and model.weights.h5;
- `NAME.weights.h5`: `model.save_weights("NAME.weights.h5")` (no architecture; the layout of §2 of
  `Schemas/keras-mapping.md`), except for the unsupported fixtures;
- `NAME.expected.json`: `{"inputs": [[...]], "input_shape": [n, h, w, c], "outputs": [[...]]}`: raw inputs
  (before the model's own preprocessing) and Keras' float32 predictions for them.

`.keras` members carry the date they were saved (metadata.json `date_saved`, the weights member's zip
time), so rerunning the script changes those bytes but nothing the tests read.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = {"keras": "3.15.1", "jax": "0.10.2", "h5py": "3.16.0", "numpy": "2.4.6"}
FIXTURES = ["keras3_seed_sgd", "keras3_two_conv_adam", "keras3_unsupported_dropout"]


def check_pins():
    import h5py
    import jax
    import keras
    import numpy

    found = {"keras": keras.__version__, "jax": jax.__version__, "h5py": h5py.__version__, "numpy": numpy.__version__}
    if found != PINS:
        sys.exit(f"pinned versions {PINS} expected, found {found}")


def build(name):
    """Builds, trains if the fixture says so, and returns (model, inputs, write_weights)."""
    import keras
    import numpy as np
    from keras import layers

    keras.utils.set_random_seed(4321)
    rng = np.random.default_rng(7)

    def pixels(n, h, w, c):
        return rng.integers(0, 256, size=(n, h, w, c)).astype("float32")

    def fit(model, optimizer, h, w, c, classes, steps=3, batch=8):
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x = pixels(steps * batch, h, w, c)
        y = rng.integers(0, classes, size=(steps * batch,))
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)

    if name == "keras3_seed_sgd":
        # The seed architecture, SGD with momentum: optimizer/vars holds iteration, learning_rate, 2 momentums.
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Rescaling(1.0 / 255.0, offset=-0.5),
            layers.Conv2D(16, 3, use_bias=False),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ])
        fit(model, keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), 28, 28, 1, 10)
        return model, pixels(4, 28, 28, 1), True
    if name == "keras3_two_conv_adam":
        # Two convs (the second is group conv2d_1), relu activation and a ReLU layer (group re_lu), stride 2,
        # same padding, a conv without bias, 3 channels, Dense then a Softmax layer, Adam.
        model = keras.Sequential([
            keras.Input((11, 10, 3)),
            layers.Rescaling(1.0 / 255.0),
            layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(5, (3, 2), padding="same", use_bias=False),
            layers.ReLU(),
            layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
            layers.Flatten(),
            layers.Dense(7),
            layers.Softmax(),
        ])
        fit(model, keras.optimizers.Adam(learning_rate=0.01), 11, 10, 3, 7)
        return model, pixels(3, 11, 10, 3), True
    if name == "keras3_unsupported_dropout":
        model = keras.Sequential([keras.Input((4, 4, 1)), layers.Flatten(), layers.Dropout(0.5), layers.Dense(2, activation="softmax")])
        return model, pixels(1, 4, 4, 1), False
    sys.exit(f"unknown fixture {name}")


def make_one(name):
    import numpy as np

    model, inputs, write_weights = build(name)
    for suffix in (".keras", ".weights.h5"):
        path = os.path.join(HERE, name + suffix)
        if os.path.exists(path):
            os.remove(path)
    model.save(os.path.join(HERE, f"{name}.keras"))
    if write_weights:
        model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
    outputs = np.asarray(model.predict(inputs, verbose=0), dtype="float32")
    expected = {
        "input_shape": list(inputs.shape),
        "inputs": [[float(v) for v in row.reshape(-1)] for row in inputs],
        "outputs": [[float(v) for v in row] for row in outputs],
    }
    with open(os.path.join(HERE, f"{name}.expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")


def main():
    if len(sys.argv) == 2:
        check_pins()
        make_one(sys.argv[1])
        return
    env = dict(os.environ, KERAS_BACKEND="jax")
    for name in FIXTURES:
        subprocess.run([sys.executable, os.path.abspath(__file__), name], check=True, env=env)


if __name__ == "__main__":
    main()
