"""HDF5 interop: files written by `cnnkit train --out FILE.h5` against h5py, h5dump and Keras 3.

Issue 3, "Done when": h5py reads every dataset and attribute; `h5dump -H` succeeds; `keras.models.load_model`
predicts what `cnnkit predict` prints (1e-5); Keras resumes training from our optimizer weights without a
warning; `cnnkit train --resume` continues bitwise.
"""

import json
import logging
import shutil
import subprocess
import warnings

import h5py
import numpy as np
import pytest

from conftest import LogRecorder

# cnnkit train options shared by every trained model here: small and fast.
TRAIN = ["--limit", "200", "--batch-size", "16", "--seed", "7"]
OPTIMIZERS = {
    "adam": ["--optimizer", "adam", "--lr", "0.001"],
    "sgd-momentum": ["--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9"],
}
# Keras 3.15.1 logs this for every compiled legacy .h5, its own files included; it is about metrics, not state.
KNOWN_KERAS_MESSAGES = ("compiled metrics have yet to be built",)


@pytest.fixture(scope="module", params=sorted(OPTIMIZERS))
def trained(request, tmp_path_factory, cnnkit, data_dir):
    """A model trained one epoch by cnnkit and saved as HDF5."""
    path = tmp_path_factory.mktemp(request.param) / "model.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, *OPTIMIZERS[request.param], "--epochs", "1", "--out", path)
    return request.param, path


def every_object(f):
    """(name, object) for the root and every group and dataset below it."""
    items = [("/", f)]
    f.visititems(lambda name, obj: items.append((name, obj)))
    return items


def test_h5py_reads_every_dataset_and_attribute(trained):
    _, path = trained
    with h5py.File(path, "r") as f:
        for name, obj in every_object(f):
            for key in obj.attrs:
                obj.attrs[key]  # noqa: B018 - reading is the test
            if isinstance(obj, h5py.Dataset):
                assert obj[()] is not None, name
        assert f.attrs["keras_version"] == "3.15.1"
        assert f.attrs["backend"] == "jax"
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        assert [layer["class_name"] for layer in config["config"]["layers"]][:2] == ["InputLayer", "Rescaling"]
        assert "optimizer_config" in json.loads(f.attrs["training_config"])
        layer_names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"].attrs["layer_names"]]
        for layer in layer_names:
            assert layer in f["model_weights"], layer
        weight_names = f["optimizer_weights"].attrs["weight_names"]
        assert weight_names[0].endswith("iteration") and weight_names[1].endswith("learning_rate")
        for name in weight_names:
            assert name in f["optimizer_weights"], name
        cnnkit = f["cnnkit"]
        assert cnnkit.attrs["format_version"] == 1
        assert json.loads(cnnkit.attrs["architecture"])["layers"]
        state = json.loads(cnnkit["training"].attrs["state"])
        assert state["epoch"] == 1 and state["step"] == int(f["optimizer_weights"][weight_names[0]][()])
        assert cnnkit["training/history/loss"].shape == (1,)
        inputs, outputs = cnnkit["probes/inputs"], cnnkit["probes/outputs"]
        assert inputs.ndim == 4 and outputs.shape == (inputs.shape[0], 10)
        assert cnnkit["probes"].attrs["source"]


def test_h5dump_reads_the_header(trained):
    _, path = trained
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        pytest.skip("h5dump not installed (apt-get install hdf5-tools)")
    result = subprocess.run([h5dump, "-H", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'GROUP "cnnkit"' in result.stdout and 'GROUP "model_weights"' in result.stdout


def probe_inputs(path, tmp_path):
    """The probe images stored in the file, also saved as a float32 .npy for `cnnkit predict`."""
    with h5py.File(path, "r") as f:
        inputs = np.asarray(f["cnnkit/probes/inputs"][()], dtype=np.float32)
        outputs = np.asarray(f["cnnkit/probes/outputs"][()], dtype=np.float32)
    npy = tmp_path / "inputs.npy"
    np.save(npy, inputs)
    return inputs, outputs, npy


def test_keras_predicts_what_cnnkit_predicts(trained, tmp_path, cnnkit_json, keras):
    _, path = trained
    inputs, stored, npy = probe_inputs(path, tmp_path)
    printed = cnnkit_json("predict", path, npy)
    ours = np.asarray(printed["probabilities"], dtype=np.float32)
    assert ours.shape == stored.shape
    assert printed["labels"] == [int(i) for i in ours.argmax(axis=1)]
    model = keras.models.load_model(str(path))
    theirs = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    assert np.abs(theirs - ours).max() <= 1e-5
    assert np.abs(stored - ours).max() <= 1e-5


def test_keras_loads_our_compressed_file(trained, tmp_path, cnnkit, cnnkit_json, keras):
    """`--compression deflate` writes chunked datasets with shuffle + deflate + fletcher32; Keras still loads them."""
    _, path = trained
    compressed = tmp_path / "compressed.h5"
    cnnkit("convert", path, compressed, "--compression", "deflate", "--level", "6")
    with h5py.File(compressed, "r") as f:
        kernel = f["model_weights/dense/sequential/dense/kernel"]
        assert kernel.chunks is not None and kernel.compression == "gzip" and kernel.shuffle and kernel.fletcher32
    inputs, _, npy = probe_inputs(compressed, tmp_path)
    ours = np.asarray(cnnkit_json("predict", compressed, npy)["probabilities"], dtype=np.float32)
    theirs = np.asarray(keras.models.load_model(str(compressed)).predict(inputs, verbose=0), dtype=np.float32)
    assert np.abs(theirs - ours).max() <= 1e-5




def unexpected(messages):
    return [m for m in messages if not any(known in m for known in KNOWN_KERAS_MESSAGES)]


def test_keras_resumes_training_from_our_optimizer_weights(trained, keras):
    """Keras loads the model, compiles it from training_config, takes our optimizer weights and trains on.

    Keras 3.15.1's legacy loader builds the optimizer from `model._trainable_variables`, which is empty for a
    Sequential model, so `set_weights` silently keeps only iteration and learning_rate and `fit` then fails;
    this happens with Keras' own .h5 files too (see the xfail test below). So the test performs the loader's
    intended steps itself: build the optimizer from training_config on `model.trainable_variables` and
    `set_weights` with the datasets named by `/optimizer_weights@weight_names`, in order. Loading and training
    must raise no Python warning and log nothing at WARNING or above (but Keras' note about metrics).
    """
    kind, path = trained
    with h5py.File(path, "r") as f:
        group = f["optimizer_weights"]
        values = [group[name][()] for name in group.attrs["weight_names"]]
        step = json.loads(f["cnnkit/training"].attrs["state"])["step"]
        training_config = json.loads(f.attrs["training_config"])
    recorder = LogRecorder()
    logging.getLogger().addHandler(recorder)
    try:
        with warnings.catch_warnings(record=True) as loading:
            warnings.simplefilter("always")
            model = keras.models.load_model(str(path))
        assert type(model.optimizer).__name__ == {"adam": "Adam", "sgd-momentum": "SGD"}[kind]
        optimizer = keras.optimizers.deserialize(training_config["optimizer_config"])
        model.compile(optimizer=optimizer, loss=training_config["loss"], metrics=training_config["metrics"])
        optimizer.build(model.trainable_variables)
        assert len(optimizer.variables) == len(values)
        optimizer.set_weights(values)
        for variable, value in zip(optimizer.variables, values):
            assert np.array_equal(np.asarray(variable.value), value), variable.path
        assert int(np.asarray(optimizer.iterations.value)) == step
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(32, 28, 28, 1)).astype(np.float32)
        y = rng.integers(0, 10, size=(32,))
        with warnings.catch_warnings(record=True) as training:
            warnings.simplefilter("always")
            history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert int(np.asarray(optimizer.iterations.value)) == step + 2
    finally:
        logging.getLogger().removeHandler(recorder)
    assert [str(w.message) for w in loading + training] == []
    assert unexpected(recorder.messages) == []


@pytest.mark.xfail(strict=True, reason="Keras 3.15.1 legacy .h5 loader builds the optimizer on no variables "
                                       "(model._trainable_variables), for its own files as well")
def test_keras_plain_load_model_then_fit(trained, keras):
    _, path = trained
    model = keras.models.load_model(str(path))
    x = np.zeros((16, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.zeros(16, dtype=np.int64), batch_size=16, epochs=1, verbose=0)


def weights(path):
    """Every dataset under /model_weights and /optimizer_weights, by path."""
    out = {}
    with h5py.File(path, "r") as f:
        for group in ("model_weights", "optimizer_weights"):
            f[group].visititems(lambda name, obj: out.__setitem__(f"{group}/{name}", obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_cnnkit_resume_from_h5_is_bitwise(trained, tmp_path, cnnkit, data_dir):
    kind, first = trained
    straight = tmp_path / "straight.h5"
    resumed = tmp_path / "resumed.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, *OPTIMIZERS[kind], "--epochs", "2", "--out", straight)
    cnnkit("train", "--data", data_dir, "--limit", "200", "--resume", first, "--epochs", "2", "--out", resumed)
    a, b = weights(straight), weights(resumed)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name
