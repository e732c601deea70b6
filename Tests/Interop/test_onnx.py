"""ONNX export (issue 6): `onnx.checker` accepts CNNKit's export and onnxruntime's probabilities equal
`cnnkit predict`'s within 1e-5, on the seed model and on models with bias, relu, `same` padding (odd totals,
so the smaller half goes before), stride 2 and odd pooling sizes.

Graph: Schemas/onnx.md.
"""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

TRAIN = ["--limit", "200", "--batch-size", "16", "--epochs", "1"]
ARCHITECTURES = {
    "seed": None,
    "two-conv-same-stride2": {
        "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [
            {"type": "conv2d", "filters": 8, "kernel": [3, 3], "stride": [2, 2], "padding": "same", "bias": True},
            {"type": "relu"},
            {"type": "conv2d", "filters": 12, "kernel": [5, 5], "stride": [2, 2], "padding": "same", "bias": True},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": [2, 2]},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "bias": True},
            {"type": "softmax"},
        ],
    },
    "pool-same-dense-hidden": {
        "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [
            {"type": "conv2d", "filters": 6, "kernel": [4, 2], "stride": [1, 2], "padding": "same", "bias": False},
            {"type": "maxpool2d", "pool": [3, 3], "stride": [2, 2], "padding": "same"},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": [2, 2]},
            {"type": "flatten"},
            {"type": "dense", "units": 16, "bias": True},
            {"type": "relu"},
            {"type": "dense", "units": 10, "bias": False},
            {"type": "softmax"},
        ],
    },
}


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def exported(request, tmp_path_factory, cnnkit, data_dir):
    folder = tmp_path_factory.mktemp(request.param)
    seed = int(np.random.default_rng().integers(1, 1 << 30))
    args = []
    if ARCHITECTURES[request.param]:
        arch = folder / "arch.json"
        arch.write_text(json.dumps(ARCHITECTURES[request.param]))
        args = ["--arch", arch]
    model = folder / "model.h5"
    cnnkit("train", "--data", data_dir, *TRAIN, "--seed", seed, *args, "--out", model)
    path = folder / "model.onnx"
    cnnkit("convert", model, path, "--no-verify")
    return folder, model, path


def test_checker_accepts(exported):
    _, _, path = exported
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 13
    assert [i.name for i in model.graph.input] == ["images"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [28, 28, 1]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["cnnkit.architecture"])["input"]["height"] == 28


def test_onnxruntime_matches_cnnkit_predict(exported, cnnkit):
    folder, model, path = exported
    rng = np.random.default_rng()
    images = rng.integers(0, 256, size=(16, 28, 28, 1)).astype(np.uint8)
    np.save(folder / "images.npy", images)
    ours = np.array(json.loads(cnnkit("predict", model, folder / "images.npy", "--json").stdout)["probabilities"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(["probabilities"], {"images": images.astype(np.float32)})[0]
    assert theirs.shape == ours.shape == (16, 10)
    assert np.abs(theirs - ours).max() <= 1e-5
    assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).all()


def test_export_is_deterministic(exported, cnnkit):
    folder, model, path = exported
    again = folder / "again.onnx"
    cnnkit("convert", model, again, "--no-verify")
    assert again.read_bytes() == path.read_bytes()
