"""Keras 3 interop: `.keras` and `.weights.h5` files against Keras 3.15.1 (jax backend).

Issue 6, "Done when": Keras -> `.keras` -> `cnnkit convert` -> `.cnnz` -> `cnnkit predict` equals `model.predict`
within 1e-5; CNNKit -> `.keras` and `.weights.h5` -> `keras.saving.load_model` / `load_weights` predicts what
`cnnkit predict` prints (1e-5); `cnnkit convert` round trips h5 <-> .keras <-> .weights.h5 <-> cnnz, checked by
`cnnkit verify --against` with exact equality.

Models are made at test time from a random seed (set `CNNKIT_TEST_SEED` to repeat a run; failures print it).
"""

import json
import logging
import os
import random
import warnings
import zipfile

import h5py
import numpy as np
import pytest

from conftest import LogRecorder

SEED = int(os.environ.get("CNNKIT_TEST_SEED", random.SystemRandom().randrange(2**31)))
# cnnkit train options shared by the models CNNKit trains here: small and fast.
TRAIN = ["--limit", "200", "--batch-size", "16", "--epochs", "1", "--seed", str(SEED % 1000)]

# A two-convolution architecture for Fashion-MNIST: bias, stride 2, same padding, ReLU layers, a conv without
# bias, same-padded pooling (Schemas/architecture.schema.json).
TWO_CONV = {
    "version": 1,
    "input": {"height": 28, "width": 28, "channels": 1},
    "preprocessing": {"scale": 1 / 255, "offset": -0.5},
    "layers": [
        {"type": "conv2d", "name": "conv2d", "filters": 4, "kernel": [3, 3], "stride": [2, 2], "padding": "same", "bias": True},
        {"type": "relu", "name": "re_lu"},
        {"type": "conv2d", "name": "conv2d_1", "filters": 6, "kernel": [3, 2], "stride": [1, 1], "padding": "same", "bias": False},
        {"type": "relu", "name": "re_lu_1"},
        {"type": "maxpool2d", "name": "max_pooling2d", "pool": [2, 2], "stride": [2, 2], "padding": "same"},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "dense", "units": 10, "bias": True},
        {"type": "softmax", "name": "softmax"},
    ],
}


def keras_model(keras, kind, shape, classes):
    """A Keras Sequential of the given kind: `seed` (the seed network) or `two_conv` (as TWO_CONV)."""
    from keras import layers

    if kind == "seed":
        return keras.Sequential([
            keras.Input(shape),
            layers.Rescaling(1 / 255, offset=-0.5),
            layers.Conv2D(16, 3, use_bias=False),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(classes, activation="softmax"),
        ])
    return keras.Sequential([
        keras.Input(shape),
        layers.Rescaling(1 / 255, offset=-0.5),
        layers.Conv2D(4, 3, strides=2, padding="same"),
        layers.ReLU(),
        layers.Conv2D(6, (3, 2), padding="same", use_bias=False),
        layers.ReLU(),
        layers.MaxPooling2D(2, padding="same"),
        layers.Flatten(),
        layers.Dense(classes),
        layers.Softmax(),
    ])




class Quiet:
    """A context that records Python warnings and log records at WARNING and above; `messages` lists them."""

    def __enter__(self):
        self.recorder = LogRecorder()
        logging.getLogger().addHandler(self.recorder)
        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self.catcher.__exit__(*exc)
        logging.getLogger().removeHandler(self.recorder)
        self.messages = [str(w.message) for w in self.caught] + self.recorder.messages
        return False


def pixels(rng, n, shape):
    return rng.integers(0, 256, size=(n, *shape)).astype(np.float32)


def predict(cnnkit_json, model, npy, *extra):
    printed = cnnkit_json("predict", model, npy, *extra)
    probabilities = np.asarray(printed["probabilities"], dtype=np.float32)
    assert printed["labels"] == [int(i) for i in probabilities.argmax(axis=1)]
    return probabilities


def architecture_of(cnnkit_json, path, tmp_path, *extra):
    """Our architecture JSON of a model file (from `cnnkit inspect --json`), saved for `--architecture`."""
    target = tmp_path / f"{path.name}.architecture.json"
    target.write_text(json.dumps(cnnkit_json("inspect", path, *extra)["architecture"]))
    return target


def verify_exact(cnnkit_json, a, b, *extra):
    report = cnnkit_json("verify", a, "--against", b, *extra)
    assert report["passed"], (SEED, a, b, report)


# Keras -> .keras / .weights.h5 -> cnnkit

@pytest.mark.parametrize("kind,shape,classes,optimizer", [
    ("seed", (28, 28, 1), 10, None),
    ("seed", (14, 12, 2), 4, "sgd"),
    ("two_conv", (13, 11, 3), 5, "adam"),
])
def test_keras_file_converts_and_predicts_what_keras_predicts(kind, shape, classes, optimizer, tmp_path, cnnkit, cnnkit_json, keras):
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    model = keras_model(keras, kind, shape, classes)
    # Non-zero biases, so that their order and placement are tested too.
    model.set_weights([w + rng.normal(0, 0.05, size=w.shape).astype(np.float32) if w.ndim == 1 else w for w in model.get_weights()])
    if optimizer:
        opt = keras.optimizers.Adam(0.01) if optimizer == "adam" else keras.optimizers.SGD(0.01, momentum=0.9)
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(pixels(rng, 16, shape), rng.integers(0, classes, 16), batch_size=8, epochs=1, verbose=0)
    inputs = pixels(rng, 5, shape)
    expected = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    npy = tmp_path / "inputs.npy"
    np.save(npy, inputs)

    keras_file = tmp_path / "model.keras"
    model.save(keras_file)
    cnnz = tmp_path / "from_keras.cnnz"
    cnnkit("convert", keras_file, cnnz)
    assert np.abs(predict(cnnkit_json, cnnz, npy) - expected).max() <= 1e-5, SEED

    # The .weights.h5 carries no architecture: it comes from --architecture.
    weights = tmp_path / "model.weights.h5"
    model.save_weights(weights)
    architecture = architecture_of(cnnkit_json, keras_file, tmp_path)
    from_weights = tmp_path / "from_weights.cnnz"
    cnnkit("convert", weights, from_weights, "--architecture", architecture)
    assert np.abs(predict(cnnkit_json, from_weights, npy) - expected).max() <= 1e-5, SEED
    assert np.abs(predict(cnnkit_json, weights, npy, "--architecture", architecture) - expected).max() <= 1e-5, SEED

    if optimizer:
        # The optimizer state came along: Keras' iterations and slots, as our training state.
        state = cnnkit_json("inspect", keras_file)
        slots = [t["name"] for t in state["tensors"] if t["name"].startswith("optimizer.")]
        assert len(slots) == len(model.optimizer.variables) - 2


def test_weights_without_architecture_are_refused(tmp_path, cnnkit, keras):
    keras.utils.set_random_seed(SEED)
    model = keras_model(keras, "seed", (8, 8, 1), 3)
    weights = tmp_path / "m.weights.h5"
    model.save_weights(weights)
    result = cnnkit("convert", weights, tmp_path / "m.cnnz", expect=65)
    assert "--architecture" in result.stderr and str(weights) in result.stderr


def test_shape_mismatch_names_layer_and_shapes(tmp_path, cnnkit, cnnkit_json, keras):
    keras.utils.set_random_seed(SEED)
    model = keras_model(keras, "two_conv", (28, 28, 1), 10)
    weights = tmp_path / "m.weights.h5"
    model.save_weights(weights)
    other = json.loads(json.dumps(TWO_CONV))
    other["layers"][2]["kernel"] = [2, 2]
    architecture = tmp_path / "other.json"
    architecture.write_text(json.dumps(other))
    result = cnnkit("convert", weights, tmp_path / "m.cnnz", "--architecture", architecture, expect=65)
    assert "/layers/conv2d_1/vars/0: layer conv2d_1 kernel: the architecture needs shape [2, 2, 4, 6], the file holds [3, 2, 4, 6]" in result.stderr


# CNNKit -> .keras / .weights.h5 -> Keras

@pytest.fixture(scope="module", params=["seed", "two_conv"])
def trained(request, tmp_path_factory, cnnkit, data_dir):
    """A model trained one epoch by cnnkit (Adam) and saved as HDF5, .keras and .weights.h5."""
    folder = tmp_path_factory.mktemp(request.param)
    arch = []
    if request.param == "two_conv":
        (folder / "arch.json").write_text(json.dumps(TWO_CONV))
        arch = ["--arch", folder / "arch.json"]
    h5 = folder / "model.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, "--optimizer", "adam", "--lr", "0.001", *arch, "--out", h5)
    cnnkit("convert", h5, folder / "model.keras")
    cnnkit("convert", h5, folder / "model.weights.h5")
    return request.param, folder


def test_keras_loads_our_keras_file_and_predicts_what_cnnkit_prints(trained, tmp_path, cnnkit_json, keras):
    kind, folder = trained
    inputs = pixels(np.random.default_rng(SEED), 6, (28, 28, 1))
    npy = tmp_path / "inputs.npy"
    np.save(npy, inputs)
    ours = predict(cnnkit_json, folder / "model.keras", npy)
    with Quiet() as quiet:
        model = keras.saving.load_model(folder / "model.keras")
    assert quiet.messages == []
    theirs = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    assert np.abs(theirs - ours).max() <= 1e-5, SEED
    assert np.abs(predict(cnnkit_json, folder / "model.h5", npy) - ours).max() == 0


def test_keras_load_weights_of_our_weights_file_predicts_what_cnnkit_prints(trained, tmp_path, cnnkit_json, keras):
    kind, folder = trained
    inputs = pixels(np.random.default_rng(SEED + 1), 6, (28, 28, 1))
    npy = tmp_path / "inputs.npy"
    np.save(npy, inputs)
    ours = predict(cnnkit_json, folder / "model.weights.h5", npy)
    # A model Keras builds by hand, with Keras' own layer names: weights are found by layer class and order.
    keras.utils.set_random_seed(SEED)
    model = keras_model(keras, kind, (28, 28, 1), 10)
    with Quiet() as quiet:
        model.load_weights(folder / "model.weights.h5")
    assert quiet.messages == []
    theirs = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    assert np.abs(theirs - ours).max() <= 1e-5, SEED


def test_keras_resumes_training_from_our_keras_file(trained, keras):
    """`load_model` restores our Adam state (iterations and every slot) and `fit` trains on without warnings."""
    _, folder = trained
    path = folder / "model.keras"
    with zipfile.ZipFile(path) as archive:
        assert [i.compress_type for i in archive.infolist()] == [zipfile.ZIP_STORED] * 3
        assert [i.filename for i in archive.infolist()] == ["metadata.json", "config.json", "model.weights.h5"]
        (folder / "inner.weights.h5").write_bytes(archive.read("model.weights.h5"))
    with h5py.File(folder / "inner.weights.h5", "r") as f:
        group = f["optimizer/vars"]
        stored = [group[str(i)][()] for i in range(len(group))]
        step = json.loads(f["cnnkit/training"].attrs["state"])["step"]
    with Quiet() as quiet:
        model = keras.saving.load_model(path)
        assert type(model.optimizer).__name__ == "Adam"
        assert len(model.optimizer.variables) == len(stored)
        for variable, value in zip(model.optimizer.variables, stored):
            assert np.array_equal(np.asarray(variable.value), value), variable.path
        assert int(np.asarray(model.optimizer.iterations.value)) == step
        rng = np.random.default_rng(SEED)
        history = model.fit(pixels(rng, 32, (28, 28, 1)), rng.integers(0, 10, 32), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert int(np.asarray(model.optimizer.iterations.value)) == step + 2
    assert [m for m in quiet.messages if "__array__" not in m] == []


# cnnkit convert round trips, verified exactly

def test_convert_round_trip_h5_keras_weights_cnnz_exact(trained, tmp_path, cnnkit, cnnkit_json):
    _, folder = trained
    h5 = folder / "model.h5"
    architecture = architecture_of(cnnkit_json, h5, tmp_path)
    chain = [h5, tmp_path / "a.keras", tmp_path / "b.weights.h5", tmp_path / "c.cnnz", tmp_path / "d.keras", tmp_path / "e.h5",
             tmp_path / "f.weights.h5", tmp_path / "g.h5"]
    for source, target in zip(chain, chain[1:]):
        cnnkit("convert", source, target, "--architecture", architecture)
        verify_exact(cnnkit_json, target, source, "--architecture", architecture)
    verify_exact(cnnkit_json, chain[-1], h5)
    # Lossless all the way: the same tensors, the same training state.
    diff = cnnkit_json("diff", h5, chain[-1])
    assert diff["passed"], diff


def test_convert_round_trip_of_keras_weights_with_architecture(tmp_path, cnnkit, cnnkit_json, keras):
    """A Keras-written .weights.h5 (no /cnnkit), read with --architecture, through every Keras and our format."""
    keras.utils.set_random_seed(SEED)
    model = keras_model(keras, "two_conv", (28, 28, 1), 10)
    weights = tmp_path / "keras.weights.h5"
    model.save_weights(weights)
    architecture = tmp_path / "arch.json"
    architecture.write_text(json.dumps(TWO_CONV))
    chain = [weights, tmp_path / "a.keras", tmp_path / "b.h5", tmp_path / "c.weights.h5", tmp_path / "d.cnnz"]
    for source, target in zip(chain, chain[1:]):
        cnnkit("convert", source, target, "--architecture", architecture)
        verify_exact(cnnkit_json, target, source, "--architecture", architecture)
