"""NumPy .npz interop (issue 6): `numpy.load` reads CNNKit's archives; CNNKit reads archives NumPy wrote
(stored and deflated members, .npy 1.0/2.0/3.0, C and Fortran order, little- and big-endian, float32/float64),
including the original NumPy seed's `filters`/`weights`/`biases`, which predict what the seed's forward pass
computes.

Mapping: Schemas/npz-mapping.md.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Fixtures" / "npz"
TRAIN = ["--limit", "200", "--batch-size", "16", "--epochs", "1"]


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cnnkit, data_dir):
    """A seed model trained one epoch with SGD + momentum (one slot per parameter), as .h5 and as our .npz."""
    folder = tmp_path_factory.mktemp("npz")
    seed = int(np.random.default_rng().integers(1, 1 << 30))
    h5 = folder / "model.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.01", "--seed", seed, "--out", h5)
    npz = folder / "model.npz"
    cnnkit("convert", h5, npz)
    return folder, h5, npz


def test_numpy_loads_our_npz(trained, cnnkit):
    folder, h5, npz = trained
    with np.load(npz) as z:  # allow_pickle=False: nothing in it needs pickle
        keys = set(z.files)
        assert {"__cnnkit__", "conv2d.kernel", "dense.kernel", "dense.bias", "probes.inputs", "probes.outputs"} <= keys
        assert {"optimizer.conv2d.kernel.momentum", "optimizer.dense.kernel.momentum", "optimizer.dense.bias.momentum"} <= keys
        assert z["conv2d.kernel"].dtype == np.float32 and z["conv2d.kernel"].shape == (3, 3, 1, 16)
        assert z["dense.kernel"].shape == (2704, 10)
        assert z["probes.inputs"].dtype == np.uint8
        meta = json.loads(str(z["__cnnkit__"]))
        assert meta["format_version"] == 1 and meta["training_state"]["optimizer"]["kind"] == "sgd"
        ours = {k: z[k] for k in keys if k != "__cnnkit__"}
    # Bitwise against the safetensors copy (an independent path through the converter).
    from safetensors.numpy import load_file
    st = folder / "model.safetensors"
    cnnkit("convert", h5, st)
    theirs = load_file(st)
    for k, v in theirs.items():
        assert np.array_equal(bits(ours[k]), bits(v)), k


def test_compressed_members_are_deflated(trained, cnnkit, cnnkit_json):
    folder, h5, _ = trained
    out = folder / "deflated.npz"
    cnnkit("convert", h5, out, "--compression", "deflate")
    with zipfile.ZipFile(out) as z:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in z.infolist())
        assert z.testzip() is None
    with np.load(out) as z:
        assert z["dense.kernel"].shape == (2704, 10)
    assert cnnkit_json("verify", out, "--against", h5)["passed"] is True


def test_we_read_numpy_written_variants(trained, cnnkit, cnnkit_json):
    """Our arrays rewritten by NumPy as big-endian float64, Fortran order, .npy 2.0/3.0, deflated: exact again."""
    folder, h5, npz = trained
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    variants = {}
    for i, (k, v) in enumerate(sorted(arrays.items())):
        if k == "__cnnkit__" or v.dtype != np.float32:
            variants[k] = v
        elif i % 3 == 0:
            variants[k] = np.asfortranarray(v.astype(">f8"))
        elif i % 3 == 1:
            variants[k] = np.asfortranarray(v)
        else:
            variants[k] = v.astype(">f4")
    plain = folder / "variants.npz"
    np.savez_compressed(plain, **variants)
    assert cnnkit_json("verify", plain, "--against", h5)["passed"] is True
    assert cnnkit_json("diff", plain, h5)["passed"] is True
    versions = folder / "versions.npz"
    with zipfile.ZipFile(versions, "w") as zf:
        for i, (k, v) in enumerate(sorted(arrays.items())):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, v, version=[(1, 0), (2, 0), (3, 0)][i % 3])
            zf.writestr(k + ".npy", buffer.getvalue())
    assert cnnkit_json("diff", versions, h5)["passed"] is True


def seed_forward(filters, weights, biases, images):
    """The seed's forward pass, vectorised: conv (valid, no bias), 2x2 max-pool, (h, w, n) flatten, softmax."""
    x = images.astype(np.float64) / 255 - 0.5
    n, h, w = x.shape
    k = filters.shape[0]
    conv = np.zeros((n, h - 2, w - 2, k))
    for i in range(3):
        for j in range(3):
            conv += x[:, i:i + h - 2, j:j + w - 2, None] * filters[None, None, None, :, i, j]
    ph, pw = (h - 2) // 2, (w - 2) // 2
    pooled = conv[:, :ph * 2, :pw * 2].reshape(n, ph, 2, pw, 2, k).max(axis=(2, 4))
    totals = pooled.reshape(n, -1) @ weights + biases
    e = np.exp(totals - totals.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("filters", [8, 16])
def test_seed_layout_predicts_numpy_forward(filters, cnnkit, tmp_path):
    rng = np.random.default_rng()
    f = rng.standard_normal((filters, 3, 3)) / 9
    w = rng.standard_normal((13 * 13 * filters, 10)) / (13 * 13 * filters) * 20
    b = rng.standard_normal(10) / 10
    images = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    path = tmp_path / "seed.npz"
    np.savez(path, filters=f, weights=w, biases=b, last_input=images[0].ravel() / 255.0, last_input_shape=np.array([13, 13, filters]),
             last_totals=np.zeros(10))
    np.save(tmp_path / "images.npy", images)
    got = np.array(json.loads(cnnkit("predict", path, tmp_path / "images.npy", "--json").stdout)["probabilities"])
    assert np.abs(got - seed_forward(f, w, b, images)).max() <= 1e-5


def test_seed_layout_fixture(cnnkit, tmp_path):
    expected = np.array(json.loads((FIXTURES / "seed_layout.expected.json").read_text())["outputs"])
    got = np.array(json.loads(cnnkit("predict", FIXTURES / "seed_layout.npz", FIXTURES / "seed_layout.inputs.npy", "--json").stdout)["probabilities"])
    assert np.abs(got - expected).max() <= 1e-5
    # And it converts to every writable format, exactly.
    for ext in ("h5", "cnnz", "safetensors", "npz"):
        cnnkit("convert", FIXTURES / "seed_layout.npz", tmp_path / f"seed.{ext}")


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"conv2d.kernel": np.array([object(), 1], dtype=object)}, "dtype '|O'"),
        ({"weights": np.zeros((3, 10)), "filters": np.zeros((2, 3, 3)), "biases": np.zeros(10)}, "square"),
        ({"something": np.zeros(3, np.float32)}, "--architecture"),
    ],
)
def test_refusals_exit_65(arrays, words, cnnkit, tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, allow_pickle=True, **arrays)
    result = cnnkit("convert", path, tmp_path / "out.cnnz", expect=65)
    assert words in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "out.cnnz").exists()


def test_truncated_member_data_exit_65(trained, cnnkit, tmp_path):
    """A member whose .npy header promises more data than it holds (zip itself intact)."""
    _, _, npz = trained
    bad = tmp_path / "short.npz"
    with zipfile.ZipFile(npz) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:-4] if info.filename == "dense.kernel.npy" else data)
    result = cnnkit("convert", bad, tmp_path / "out.cnnz", expect=65)
    assert "dense.kernel.npy" in result.stderr and "data bytes" in result.stderr
