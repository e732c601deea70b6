"""Tensor digests (Schemas/digests.md): recomputed from what h5py, safetensors and numpy return, and checked by
`cnnkit verify` on files changed from outside, including the formats that have no checksum of their own."""
import hashlib
import json
import subprocess

import h5py
import numpy as np
import pytest

from conftest import PACKAGE_ROOT


def run(cnnkit_bin, *args):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600)


def sha(values):
    return hashlib.sha256(np.asarray(values, dtype="<f4").tobytes()).hexdigest()


@pytest.fixture(scope="module")
def adam_model(cnnkit, data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("digests") / "base.h5"
    cnnkit("train", "--data", data_dir, "--optimizer", "adam", "--limit", "400", "--batch-size", "32", "--epochs", "1", "--out", path)
    return path


def recorded(metadata_json):
    digests = json.loads(metadata_json)
    assert digests["algorithm"] == "sha256"
    return digests


def test_safetensors_digests_match_what_safetensors_returns(cnnkit, adam_model, tmp_path):
    out = tmp_path / "m.safetensors"
    cnnkit("convert", adam_model, out)
    from safetensors import safe_open
    with safe_open(str(out), "np") as f:
        digests = recorded(f.metadata()["cnnkit.digests"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    assert set(digests["tensors"]) == set(tensors)
    for name, values in tensors.items():
        assert digests["tensors"][name] == sha(values), name


def test_npz_and_hdf5_digests_match_what_numpy_and_h5py_return(cnnkit, adam_model, tmp_path):
    npz = tmp_path / "m.npz"
    cnnkit("convert", adam_model, npz)
    with np.load(npz) as archive:
        meta = json.loads(str(archive["__cnnkit__"]))
        digests = recorded(meta["metadata"]["cnnkit.digests"])
        for name, d in digests["tensors"].items():
            assert d == sha(archive[name]), name
    with h5py.File(adam_model, "r") as f:
        text = f["cnnkit/metadata"].attrs["cnnkit.digests"]
        digests = recorded(text if isinstance(text, str) else text.decode())
        kernel = f["model_weights/conv2d/sequential/conv2d/kernel"][...]
        assert digests["tensors"]["conv2d.kernel"] == sha(kernel)
        assert digests["tensors"]["dense.bias"] == sha(f["model_weights/dense/sequential/dense/bias"][...])


@pytest.mark.parametrize("suffix", [".h5", ".safetensors", ".weights.h5"])
def test_one_changed_value_fails_verify_in_formats_without_checksums(cnnkit, cnnkit_bin, adam_model, tmp_path, suffix):
    """The issue's example: a value of dense.kernel changed by far less than the probes can see."""
    out = tmp_path / f"m{suffix}"
    cnnkit("convert", adam_model, out)
    if suffix == ".safetensors":
        from safetensors.numpy import save_file
        from safetensors import safe_open
        with safe_open(str(out), "np") as f:
            metadata = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        tensors["dense.kernel"].flat[3] = np.nextafter(tensors["dense.kernel"].flat[3], np.float32(1))
        save_file(tensors, str(out), metadata=metadata)
        tensor = "dense.kernel"
    else:
        dataset = "model_weights/dense/sequential/dense/kernel" if suffix == ".h5" else "layers/dense/vars/0"
        with h5py.File(out, "r+") as f:
            values = f[dataset][...]
            values.flat[3] = np.nextafter(values.flat[3], np.float32(1))
            f[dataset][...] = values
        tensor = "dense.kernel"
    result = run(cnnkit_bin, "verify", out, "--json")
    assert result.returncode == 65, result.stdout + result.stderr
    report = json.loads(result.stdout)
    digests = next(c for c in report["checks"] if c["name"] == "digests")
    assert digests["status"] == "FAIL" and digests["detail"].startswith(f"tensor {tensor}: SHA-256"), digests


def test_a_changed_adam_moment_fails_verify(cnnkit, cnnkit_bin, adam_model, tmp_path):
    out = tmp_path / "m.h5"
    cnnkit("convert", adam_model, out)
    with h5py.File(out, "r+") as f:
        names = []
        f["optimizer_weights"].visit(lambda n: names.append(n) if "velocity" in n and isinstance(f["optimizer_weights"][n], h5py.Dataset) else None)
        dataset = f["optimizer_weights"][names[0]]
        values = dataset[...]
        values.flat[0] = values.flat[0] * 2 + 1e-6
        dataset[...] = values
    result = run(cnnkit_bin, "verify", out)
    assert result.returncode == 65 and "FAIL  digests      tensor optimizer." in result.stdout, result.stdout


def test_convert_refuses_an_input_whose_digest_does_not_match(cnnkit_bin, cnnkit, adam_model, tmp_path):
    src = tmp_path / "m.h5"
    cnnkit("convert", adam_model, src)
    with h5py.File(src, "r+") as f:
        d = f["model_weights/conv2d/sequential/conv2d/kernel"]
        values = d[...]
        values.flat[0] += np.float32(0.5)
        d[...] = values
    result = run(cnnkit_bin, "convert", src, tmp_path / "out.cnnz")
    assert result.returncode == 65 and "tensor conv2d.kernel" in result.stderr and "SHA-256" in result.stderr, result.stderr
    assert not (tmp_path / "out.cnnz").exists()


def test_a_file_from_another_tool_says_its_values_are_unchecked(cnnkit_bin, tmp_path):
    fixtures = sorted((PACKAGE_ROOT / "Fixtures" / "keras").glob("*.keras"))
    result = run(cnnkit_bin, "verify", fixtures[0])
    assert "SKIP  digests      no digest: stored values unchecked" in result.stdout, result.stdout
