"""safetensors interop: CNNKit's files against the Python safetensors package, and the package's files against
CNNKit (issue 6). Also the convert chain h5 -> safetensors -> npz -> cnnz -> h5, exact at every step, and every
pair of safetensors/npz with h5, cnnz, .keras and .weights.h5, both ways.

Mapping: Schemas/safetensors-mapping.md.
"""

import json
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save, save_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Fixtures" / "safetensors"
TRAIN = ["--limit", "200", "--batch-size", "16", "--epochs", "1"]
TWO_CONV = {
    "input": {"height": 28, "width": 28, "channels": 1},
    "layers": [
        {"type": "conv2d", "filters": 4, "kernel": [3, 3], "stride": [2, 2], "padding": "same", "bias": True},
        {"type": "relu"},
        {"type": "conv2d", "filters": 6, "kernel": [3, 3], "padding": "same", "bias": True},
        {"type": "relu"},
        {"type": "maxpool2d", "pool": [2, 2]},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "bias": True},
        {"type": "softmax"},
    ],
}


def bits(a):
    """The float32 bit patterns of an array (bitwise comparison, NaN payloads and -0 included)."""
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def h5_weights(path):
    """{exchange name: array} from the Keras part of a CNNKit .h5 file."""
    out = {}
    with h5py.File(path, "r") as f:
        weights = f["model_weights"]
        for layer in weights:
            for name in weights[layer].attrs.get("weight_names", []):
                name = name.decode() if isinstance(name, bytes) else name
                param = name.rsplit("/", 1)[-1]
                out[f"{layer}.{param}"] = weights[layer][name][()]
    return out


@pytest.fixture(scope="module", params=["seed", "two-conv"])
def model(request, tmp_path_factory, cnnkit, data_dir):
    """A model trained one epoch with Adam (so it has optimizer slots), saved as .h5, and its architecture file."""
    folder = tmp_path_factory.mktemp(request.param)
    seed = int(np.random.default_rng().integers(1, 1 << 30))
    arch = folder / "arch.json"
    if request.param == "seed":
        arch_args = []
    else:
        arch.write_text(json.dumps(TWO_CONV))
        arch_args = ["--arch", arch]
    path = folder / "model.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, "--optimizer", "adam", "--lr", "0.001", "--seed", seed, *arch_args, "--out", path)
    if request.param == "seed":
        probe = folder / "arch-probe.safetensors"
        cnnkit("convert", path, probe)
        with safe_open(probe, "np") as f:
            arch.write_text(f.metadata()["cnnkit.architecture"])
    return folder, path, arch


def test_python_reads_our_file_bitwise(model, cnnkit):
    folder, h5, _ = model
    out = folder / "ours.safetensors"
    cnnkit("convert", h5, out)
    tensors = load_file(out)
    expected = h5_weights(h5)
    for name, value in expected.items():
        assert tensors[name].dtype == np.float32 and tensors[name].shape == value.shape, name
        assert np.array_equal(bits(tensors[name]), bits(value)), name
    slots = [k for k in tensors if k.startswith("optimizer.")]
    assert sorted(slots) == sorted(f"optimizer.{n}.{s}" for n in expected for s in ("momentum", "velocity"))
    assert tensors["probes.inputs"].shape[1:] == (28, 28, 1) and tensors["probes.outputs"].shape[1] == 10
    with safe_open(out, "np") as f:
        meta = f.metadata()
    assert meta["cnnkit.format_version"] == "1"
    assert json.loads(meta["cnnkit.architecture"])["input"] == {"height": 28, "width": 28, "channels": 1}
    state = json.loads(meta["cnnkit.training_state"])
    assert state["optimizer"]["kind"] == "adam" and state["epoch"] == 1


def test_layout_matches_what_python_writes(model, cnnkit):
    """Same tensor order, offsets and data bytes as `safetensors.numpy.save` of the same tensors; header padded to 8."""
    folder, h5, _ = model
    out = folder / "layout.safetensors"
    cnnkit("convert", h5, out)
    data = out.read_bytes()
    theirs = save(load_file(out))

    def layout(blob):
        n = struct.unpack("<Q", blob[:8])[0]
        header = json.loads(blob[8:8 + n])
        header.pop("__metadata__", None)
        order = sorted(header, key=lambda k: header[k]["data_offsets"])
        return n, [(k, header[k]["dtype"], header[k]["shape"], header[k]["data_offsets"]) for k in order], blob[8 + n:]

    n_ours, entries_ours, data_ours = layout(data)
    _, entries_theirs, data_theirs = layout(theirs)
    assert n_ours % 8 == 0
    assert entries_ours == entries_theirs
    assert data_ours == data_theirs


def test_we_read_theirs(model, cnnkit, cnnkit_json):
    """A plain file written by Python (F64 and F16 among the dtypes, no metadata) converts with --architecture."""
    folder, h5, arch = model
    weights = h5_weights(h5)
    theirs = folder / "theirs.safetensors"
    save_file({k: v.astype(np.float64) if k.endswith("kernel") else v for k, v in weights.items()}, theirs)
    missing = cnnkit("convert", theirs, folder / "x.cnnz", expect=65)
    assert "--architecture" in missing.stderr and str(theirs) in missing.stderr
    out = folder / "from_theirs.cnnz"
    cnnkit("convert", theirs, out, "--architecture", arch)
    report = cnnkit_json("verify", out, "--against", h5)
    assert report["passed"] is True


def test_convert_chain_exact(model, cnnkit, cnnkit_json):
    """h5 -> safetensors -> npz -> cnnz -> h5: every step verifies exactly against the original; tensors bitwise."""
    folder, h5, _ = model
    chain = [h5, folder / "c.safetensors", folder / "c.npz", folder / "c.cnnz", folder / "c.h5", folder / "d.safetensors"]
    for source, target in zip(chain, chain[1:]):
        cnnkit("convert", source, target, "--compression", "none")
        assert cnnkit_json("verify", target, "--against", h5)["passed"] is True, target
    assert cnnkit_json("diff", h5, chain[-2])["passed"] is True
    assert (folder / "c.safetensors").read_bytes() == (folder / "d.safetensors").read_bytes()


@pytest.mark.parametrize("name", ["tiny_plain", "tiny_mixed_dtypes", "tiny_with_metadata"])
def test_fixtures_predict_numpy_forward(name, cnnkit, tmp_path):
    """The Python-made fixtures predict what a NumPy forward pass of the tiny network computed."""
    expected = json.loads((FIXTURES / "tiny.expected.json").read_text())
    images = tmp_path / "images.npy"
    np.save(images, np.array(expected["inputs"], dtype=np.uint8))
    model = tmp_path / "m.cnnz"
    args = [] if name == "tiny_with_metadata" else ["--architecture", FIXTURES / "tiny.arch.json"]
    cnnkit("convert", FIXTURES / f"{name}.safetensors", model, *args)
    got = np.array(json.loads(cnnkit("predict", model, images, "--json").stdout)["probabilities"])
    assert np.allclose(got, expected["outputs"], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "blob, words",
    [
        (struct.pack("<Q", 200) + b"{}", "ends early"),
        (struct.pack("<Q", 8) + b'{"a":1} ', "malformed"),
        (struct.pack("<Q", 8) + b"{}      " + b"\x00" * 4, "trailing"),
    ],
)
def test_refusals_exit_65(blob, words, cnnkit, tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    result = cnnkit("convert", path, tmp_path / "out.cnnz", expect=65)
    assert words in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "out.cnnz").exists()


@pytest.mark.parametrize("ours", ["safetensors", "npz"])
@pytest.mark.parametrize("other", ["h5", "cnnz", "keras", "weights.h5"])
def test_convert_pairs_exact(model, ours, other, cnnkit, cnnkit_json):
    """Every pair with the other formats, both ways: verify --against exact, and diff finds no difference."""
    folder, h5, arch = model
    a = folder / f"pair.{ours}"
    b = folder / f"pair-{ours}.{other}"
    back = folder / f"pair-back-{other}.{ours}"
    cnnkit("convert", h5, a)
    cnnkit("convert", a, b)
    extra = ["--architecture", arch] if other == "weights.h5" else []
    cnnkit("convert", b, back, *extra)
    for target in (b, back):
        assert cnnkit_json("verify", target, "--against", a, *extra)["passed"] is True, target
    assert cnnkit_json("diff", a, back)["passed"] is True
