"""The command-line contract of Documentation/cli.md, run against the built `cnnkit` binary.

Every subcommand, every exit code reachable on purpose, `--json` output validated against its schema in
`Schemas/`, help text snapshots, and the verification rules (Documentation/cli.md, section 3).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import jsonschema
import numpy as np
import pytest

from conftest import PACKAGE_ROOT

SCHEMAS = PACKAGE_ROOT / "Schemas"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
SUBCOMMANDS = ["train", "evaluate", "predict", "convert", "inspect", "verify", "diff", "report", "show", "demo"]
SMALL = ["--limit", "300", "--batch-size", "8", "--seed", "3"]


def schema(name):
    """A validator for one of our JSON Schemas, resolving references to the other schema files by file name."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        document = json.loads(path.read_text())
        resources.append((path.name, DRAFT202012.create_resource(document)))
        if "$id" in document:
            resources.append((document["$id"], DRAFT202012.create_resource(document)))
    registry = Registry().with_resources(resources)
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / name).read_text()), registry=registry)


def run(cnnkit_bin, *args, env=None, **kwargs):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600, env=env, **kwargs)


@pytest.fixture(scope="module")
def model(tmp_path_factory, cnnkit, data_dir):
    """The seed model trained briefly by cnnkit, saved as HDF5 (with probes)."""
    path = tmp_path_factory.mktemp("cli") / "seed.h5"
    cnnkit("train", "--data", data_dir, *SMALL, "--epochs", "1", "--out", path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory, data_dir):
    """Five test images as a uint8 .npy file, N x H x W."""
    import gzip

    raw = gzip.open(data_dir / "t10k-images-idx3-ubyte.gz").read()
    path = tmp_path_factory.mktemp("images") / "five.npy"
    np.save(path, np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 28, 28)[:5])
    return path


# Help text -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_text_matches_its_snapshot(cnnkit_bin, command):
    env = dict(os.environ, COLUMNS="100")
    args = ["--help"] if command is None else [command, "--help"]
    result = run(cnnkit_bin, *args, env=env)
    assert result.returncode == 0, result.stderr
    snapshot = SNAPSHOTS / f"help-{command or 'cnnkit'}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(result.stdout)
    assert snapshot.exists(), f"no snapshot {snapshot.name}; run with UPDATE_SNAPSHOTS=1 to record it"
    assert result.stdout == snapshot.read_text(), f"help for {command or 'cnnkit'} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


# Exit codes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "-1"],
        ["train", "--batch-size", "0"],
        ["train", "--checkpoint-every", "5"],
        ["convert", "a.h5", "b.cnnz", "--level", "23"],
        ["frobnicate"],
        ["verify"],
    ],
)
def test_bad_usage_exits_64(cnnkit_bin, args):
    result = run(cnnkit_bin, *args)
    assert result.returncode == 64, result.stderr
    assert result.stderr.strip(), "a usage error explains itself on stderr"


def test_missing_input_exits_66_naming_the_file(cnnkit_bin, images, tmp_path):
    for args in (["predict", tmp_path / "missing.h5", images], ["inspect", tmp_path / "nope.cnnz"], ["verify", tmp_path / "gone.h5"]):
        result = run(cnnkit_bin, *args)
        assert result.returncode == 66, result.stderr
        assert str(args[1]) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_data_exits_66_naming_the_package(cnnkit_bin, tmp_path):
    result = run(cnnkit_bin, "train", "--data", tmp_path, "--epochs", "0", "--no-save")
    assert result.returncode == 66
    assert "apt-get install -y dataset-fashion-mnist" in result.stderr


def test_unwritable_output_exits_73(cnnkit_bin, model, data_dir, tmp_path):
    target = tmp_path / "no-such-folder" / "out.h5"
    result = run(cnnkit_bin, "train", "--data", data_dir, *SMALL, "--epochs", "0", "--out", target)
    assert result.returncode == 73, result.stderr
    result = run(cnnkit_bin, "convert", model, tmp_path / "missing-folder" / "x.cnnz")
    assert result.returncode == 73, result.stderr
    assert not target.exists()


@pytest.mark.parametrize("extension", [".cnnz", ".h5"])
def test_write_failure_exits_74_and_leaves_nothing(cnnkit_bin, model, tmp_path, extension):
    # A file-size limit makes the write fail midway (EFBIG); SIGXFSZ is ignored so the process sees the error.
    out = tmp_path / f"big{extension}"
    script = f"trap '' XFSZ; ulimit -f 8; exec '{cnnkit_bin}' convert '{model}' '{out}' --no-verify --compression none"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 74, result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [], "no temporary file is left behind"


@pytest.mark.parametrize("damage", ["garbage", "truncated-cnnz", "flipped-cnnz"])
def test_unreadable_model_exits_65(cnnkit_bin, cnnkit, model, tmp_path, damage):
    path = tmp_path / "bad.cnnz"
    if damage == "garbage":
        path.write_bytes(b"this is not a model file at all\n" * 4)
    else:
        cnnkit("convert", model, path)
        data = bytearray(path.read_bytes())
        if damage == "truncated-cnnz":
            data = data[: len(data) // 2]
        else:
            data[len(data) // 3] ^= 0x01
        path.write_bytes(bytes(data))
    for command in ("verify", "inspect"):
        result = run(cnnkit_bin, command, path)
        assert result.returncode == 65, (command, result.stderr)
        assert str(path) in result.stderr


def test_internal_error_exits_70_with_one_line(cnnkit_bin, model):
    # Nothing in the library throws an unclassified error; the failpoint reaches that path on purpose.
    env = dict(os.environ, CNNKIT_FAILPOINT="internal")
    result = run(cnnkit_bin, "inspect", model, env=env)
    assert result.returncode == 70, result.stderr
    assert result.stderr.startswith("cnnkit: internal error:") and len(result.stderr.strip().splitlines()) == 1


def test_sigint_saves_a_checkpoint_exits_130_and_resumes_bitwise(cnnkit_bin, cnnkit, data_dir, tmp_path):
    args = ["--data", data_dir, "--limit", "400", "--batch-size", "4", "--seed", "11", "--epochs", "3"]
    straight = tmp_path / "straight.h5"
    cnnkit("train", *args, "--out", straight)
    checkpoint = tmp_path / "checkpoint.h5"
    process = subprocess.Popen([str(cnnkit_bin), "train", *map(str, args), "--out", str(checkpoint)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt once training runs (after the first epoch's progress line), whatever the machine's load: a
    # signal that arrives while the data loads would test nothing.
    first = process.stderr.readline()
    assert first.startswith("epoch 1/3"), first
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    stderr = first + rest
    if process.returncode == 0:
        pytest.fail("training finished before the interrupt; the test needs a slower run")
    assert process.returncode == 130, stderr
    assert checkpoint.exists() and "checkpoint saved" in stderr
    resumed = tmp_path / "resumed.h5"
    cnnkit("train", "--data", data_dir, "--limit", "400", "--resume", checkpoint, "--epochs", "3", "--out", resumed)
    diff = run(cnnkit_bin, "diff", straight, resumed)
    assert diff.returncode == 0, diff.stdout


# Subcommands and their JSON ------------------------------------------------------------------------------------


def test_train_json_follows_its_schema(cnnkit_json, data_dir, tmp_path):
    report = cnnkit_json("train", "--data", data_dir, *SMALL, "--epochs", "1", "--out", tmp_path / "m.cnnz")
    schema("train-report.schema.json").validate(report)
    assert report["epochs"] == 1 and report["steps"] == 300 // 8 + 1
    assert (tmp_path / "m.cnnz").exists()


def test_evaluate_and_predict_json(cnnkit_json, model, images, data_dir):
    evaluation = cnnkit_json("evaluate", model, "--data", data_dir, "--limit", "200")
    schema("evaluate-report.schema.json").validate(evaluation)
    assert evaluation["count"] == 200 and 0.3 < evaluation["accuracy"] <= 1
    prediction = cnnkit_json("predict", model, images)
    schema("predict-report.schema.json").validate(prediction)
    probabilities = np.array(prediction["probabilities"])
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert prediction["labels"] == list(probabilities.argmax(axis=1))


def test_inspect_json_and_text(cnnkit, cnnkit_json, model):
    report = cnnkit_json("inspect", model)
    schema("inspect-report.schema.json").validate(report)
    assert [t["name"] for t in report["tensors"]] == ["conv2d.kernel", "dense.kernel", "dense.bias"]
    assert report["parameters"] == 144 + 27040 + 10
    text = cnnkit("inspect", model).stdout
    assert "conv2d" in text and "training state" in text and "probes: 8 inputs" in text


def test_untouched_file_passes_verify_exactly(cnnkit_json, model):
    report = cnnkit_json("verify", model)
    schema("verify-report.schema.json").validate(report)
    # Files CNNKit writes record SHA-256 digests, checked right after parsing (a deliberate addition: issue 14).
    assert report["passed"] and [c["name"] for c in report["checks"]] == ["parse", "digests", "architecture", "finite", "probes"]
    assert all(c["status"] == "PASS" for c in report["checks"])
    assert report["comparison"]["max_abs_error"] == 0 and report["comparison"]["tolerance"] == {"atol": 0, "rtol": 0}


@pytest.mark.parametrize("dataset,layer", [("model_weights/conv2d/sequential/conv2d/kernel", "conv2d"), ("model_weights/dense/sequential/dense/kernel", "dense")])
def test_a_weight_nudged_by_h5py_fails_verify_naming_the_layer(cnnkit_bin, model, tmp_path, dataset, layer):
    tampered = tmp_path / "tampered.h5"
    tampered.write_bytes(model.read_bytes())
    with h5py.File(tampered, "r+") as f:
        values = f[dataset][...]
        values.flat[7] += np.float32(0.05)
        f[dataset][...] = values
    result = run(cnnkit_bin, "verify", tampered, "--json")
    # The recorded digest no longer matches: a checksum mismatch (exit 65, a deliberate change: issue 14), and
    # the probes still name the first diverging layer.
    assert result.returncode == 65, result.stderr
    report = json.loads(result.stdout)
    schema("verify-report.schema.json").validate(report)
    digests = next(c for c in report["checks"] if c["name"] == "digests")
    assert digests["status"] == "FAIL" and digests["detail"].startswith(f"tensor {layer}.kernel: SHA-256")
    assert not report["passed"] and report["first_diverging_layer"] == layer
    text = run(cnnkit_bin, "verify", tampered)
    assert f"first diverging layer: {layer}" in text.stdout


def test_hdf5_cnnz_hdf5_round_trip_is_exact(cnnkit, cnnkit_json, model, tmp_path):
    cnnz, back = tmp_path / "m.cnnz", tmp_path / "back.h5"
    cnnkit("convert", model, cnnz)
    cnnkit("convert", cnnz, back)
    report = cnnkit_json("verify", back, "--against", model)
    assert report["passed"] and report["comparison"]["max_abs_error"] == 0
    assert cnnkit("diff", model, back).returncode == 0


def test_float16_passes_within_its_bound_and_fails_at_atol_zero(cnnkit, cnnkit_bin, cnnkit_json, model, tmp_path):
    half = tmp_path / "half.cnnz"
    cnnkit("convert", model, half, "--dtype", "float16")
    report = cnnkit_json("verify", half)
    assert report["passed"] and report["comparison"]["tolerance"]["atol"] > 0
    strict = run(cnnkit_bin, "verify", half, "--atol", "0")
    assert strict.returncode == 1
    against = cnnkit_json("verify", half, "--against", model)
    assert against["passed"]


def test_diff_reports_differences_with_exit_1(cnnkit_bin, cnnkit, data_dir, model, tmp_path):
    other = tmp_path / "other.h5"
    cnnkit("train", "--data", data_dir, *SMALL[:-1], "4", "--epochs", "1", "--out", other)
    result = run(cnnkit_bin, "diff", model, other, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    schema("diff-report.schema.json").validate(report)
    assert not report["passed"] and all(not t["equal"] for t in report["tensors"])


def test_verify_against_with_data_reports_accuracy_and_agreement(cnnkit_json, model, data_dir, tmp_path, cnnkit):
    cnnz = tmp_path / "m.cnnz"
    cnnkit("convert", model, cnnz)
    report = cnnkit_json("verify", cnnz, "--against", model, "--data", data_dir, "--limit", "300")
    schema("verify-report.schema.json").validate(report)
    assert report["accuracy"]["agreement"] == 1.0 and report["accuracy"]["count"] == 300


def test_architecture_examples_follow_the_schema():
    validator = schema("architecture.schema.json")
    for path in (PACKAGE_ROOT / "Examples" / "architectures").glob("*.json"):
        validator.validate(json.loads(path.read_text()))
