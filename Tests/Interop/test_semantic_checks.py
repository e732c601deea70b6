"""Semantic checks that cannot be dodged: probes from real data when a data set of the model's input shape is at
hand, and `verify --data` failing when accuracy falls below what the file records, `--min-accuracy`, or the
model it is compared with."""
import json
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from conftest import PACKAGE_ROOT


def run(cnnkit_bin, *args):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(cnnkit, data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("semantic") / "m.h5"
    cnnkit("train", "--data", data_dir, "--limit", "2000", "--epochs", "1", "--lr", "0.01", "--out", path)
    return path


def test_a_model_without_probes_gets_real_images_as_probes(cnnkit, cnnkit_json, tmp_path):
    keras_file = PACKAGE_ROOT / "Fixtures" / "keras" / "keras3_seed_sgd.keras"
    out = tmp_path / "m.cnnz"
    cnnkit("convert", keras_file, out)
    report = cnnkit_json("inspect", out)
    assert report["probes"]["source"] == "fashion-mnist:t10k[0..<8]" and report["probes"]["count"] == 8, report["probes"]


def test_verify_data_compares_with_the_recorded_test_accuracy(cnnkit_bin, trained, data_dir):
    result = run(cnnkit_bin, "verify", trained, "--data", data_dir, "--limit", "1000", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    accuracy = json.loads(result.stdout)["accuracy"]
    assert accuracy["required"] < accuracy["accuracy"] and "training history" in accuracy["required_source"]


def test_verify_data_fails_below_min_accuracy(cnnkit_bin, trained, data_dir):
    result = run(cnnkit_bin, "verify", trained, "--data", data_dir, "--limit", "500", "--min-accuracy", "0.99")
    assert result.returncode == 1 and "FAIL  data" in result.stdout and "--min-accuracy" in result.stdout, result.stdout


def test_an_edited_copy_without_digests_fails_against_the_original_on_data(cnnkit_bin, cnnkit, trained, data_dir, tmp_path):
    """A copy edited by another tool (here h5py, then stripped of CNNKit's group so nothing records digests)
    whose outputs on the probes may still agree: the data check against the original catches the accuracy drop."""
    edited = tmp_path / "edited.h5"
    shutil.copy(trained, edited)
    with h5py.File(edited, "r+") as f:
        del f["cnnkit"]
        kernel = f["model_weights/dense/sequential/dense/kernel"]
        values = kernel[...]
        values[:, 3] = 0  # class 3 loses all its evidence
        values[:, 6] *= -1
        kernel[...] = values
    result = run(cnnkit_bin, "verify", edited, "--against", trained, "--data", data_dir, "--limit", "1000")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SKIP  digests      no digest" in result.stdout
    assert "FAIL  data" in result.stdout and "below the" in result.stdout, result.stdout
