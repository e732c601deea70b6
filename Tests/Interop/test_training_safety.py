"""Training that keeps the user's work (Documentation/cli.md, section 2.1 "Safety").

Each test reproduces a way `cnnkit train` used to lose or misreport work: a diverged run saved NaN weights with
exit 0, `train` without `--out` trained for nothing, SIGTERM killed training without a checkpoint, an ONNX `--out`
was called a checkpoint, an architecture the output format cannot hold failed only at the final save, and
`--resume` with fewer `--epochs` than done silently wrote a copy. Runs are kept small (`--limit`).
"""

import json
import signal
import subprocess
import time

import pytest

QUICK = ["--limit", "200", "--batch-size", "8", "--seed", "5"]


def run(cnnkit_bin, *args, **kwargs):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)


def write_architecture(path, layers):
    path.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1}, "layers": layers}))
    return path


SEED_LAYERS = [{"type": "conv2d", "filters": 2}, {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 10},
               {"type": "softmax"}]


# A diverging run ------------------------------------------------------------------------------------------------


def test_a_non_finite_loss_stops_training_with_exit_65_and_saves_no_nan_weights(cnnkit_bin, data_dir, tmp_path):
    out = tmp_path / "diverged.h5"
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--lr", "1e30", "--out", out)
    assert result.returncode == 65, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "not finite" in message and "step" in message and "epoch 1" in message and "example" in message, message
    assert not out.exists(), "no model with NaN weights is written"
    assert [p.name for p in tmp_path.iterdir()] == [], "no temporary file is left behind"


def test_a_diverging_run_keeps_the_last_finite_checkpoint(cnnkit_bin, cnnkit, data_dir, tmp_path):
    out = tmp_path / "checkpoint.cnnz"
    # lr 1e30 diverges at step 2: the checkpoint of step 1 is finite and stays.
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--lr", "1e30", "--checkpoint-every", "1", "--out", out)
    assert result.returncode == 65, result.stderr
    if out.exists():
        report = json.loads(cnnkit("inspect", out, "--json").stdout)
        assert all(t["non_finite"] == 0 for t in report["tensors"]), "a checkpoint never holds NaN or infinite values"
        cnnkit("verify", out)
    assert "last finite checkpoint" in result.stderr or "nothing saved" in result.stderr, result.stderr


# No silent loss of the trained model ----------------------------------------------------------------------------


def test_train_without_out_is_refused_before_training(cnnkit_bin, data_dir, tmp_path):
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, cwd=tmp_path)
    assert result.returncode == 64, result.stderr
    assert "--out" in result.stderr and "--no-save" in result.stderr
    assert "epoch 1/1" not in result.stderr, "refused before the first step"
    assert list(tmp_path.iterdir()) == []


def test_no_save_trains_and_says_nothing_was_saved(cnnkit_bin, data_dir, tmp_path):
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--no-save", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "not saved" in result.stderr
    assert list(tmp_path.iterdir()) == []
    both = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--no-save", "--out", tmp_path / "m.h5")
    assert both.returncode == 64


# Signals --------------------------------------------------------------------------------------------------------


def test_sigterm_saves_a_checkpoint_exits_143_and_resumes_bitwise(cnnkit_bin, cnnkit, data_dir, tmp_path):
    args = ["--data", data_dir, "--limit", "300", "--batch-size", "4", "--seed", "13", "--epochs", "4"]
    checkpoint = tmp_path / "checkpoint.cnnz"
    process = subprocess.Popen([str(cnnkit_bin), "train", *map(str, args), "--out", str(checkpoint)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # the first progress line: epoch 1 is done
    assert first.startswith("epoch 1/4"), first
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=120)
    stderr = first + rest
    if process.returncode == 0:
        pytest.fail("training finished before SIGTERM; the test needs a slower run")
    assert process.returncode == 143, stderr
    assert "terminated: checkpoint saved to" in stderr and checkpoint.exists()
    state = json.loads(cnnkit("inspect", checkpoint, "--json").stdout)["training_state"]
    assert 1 <= state["epoch"] < 4
    resumed, straight = tmp_path / "resumed.cnnz", tmp_path / "straight.cnnz"
    cnnkit("train", *args, "--resume", checkpoint, "--out", resumed)
    cnnkit("train", *args, "--out", straight)
    assert run(cnnkit_bin, "diff", straight, resumed).returncode == 0


def test_onnx_cannot_take_checkpoints_and_is_refused_before_training(cnnkit_bin, data_dir, tmp_path):
    out = tmp_path / "model.onnx"
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--checkpoint-every", "5", "--out", out)
    assert result.returncode == 64, result.stderr
    assert "ONNX" in result.stderr and "training state" in result.stderr
    assert "epoch 1/1" not in result.stderr and not out.exists()


def test_sigint_with_an_onnx_out_does_not_claim_a_checkpoint(cnnkit_bin, data_dir, tmp_path):
    out = tmp_path / "model.onnx"
    args = ["--data", data_dir, "--limit", "300", "--batch-size", "4", "--epochs", "4"]
    process = subprocess.Popen([str(cnnkit_bin), "train", *map(str, args), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [process.stderr.readline()]
    assert "ONNX" in lines[0] and "cannot resume" in lines[0], lines[0]
    lines.append(process.stderr.readline())
    assert lines[1].startswith("epoch 1/4"), lines
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    stderr = "".join(lines) + rest
    assert process.returncode == 130, stderr
    assert "checkpoint saved" not in stderr and "nothing saved" in stderr
    assert not out.exists()


# Everything is checked before the first step ---------------------------------------------------------------------


@pytest.mark.parametrize("out_name", ["m.h5", "m.keras"])
def test_a_layer_name_hdf5_cannot_hold_fails_before_training(cnnkit_bin, data_dir, tmp_path, out_name):
    layers = [dict(SEED_LAYERS[0], name="conv/a"), *SEED_LAYERS[1:]]
    arch = write_architecture(tmp_path / "slash.json", layers)
    out = tmp_path / out_name
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--arch", arch, "--out", out)
    assert result.returncode in (64, 65), result.stderr
    assert "conv/a" in result.stderr and "before training" in result.stderr
    assert "epoch 1/1" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slash.json"], "the dry run leaves nothing behind"


def test_an_architecture_too_large_for_hdf5_fails_before_training(cnnkit_bin, data_dir, tmp_path):
    layers = [SEED_LAYERS[0], *([{"type": "relu"}] * 20_000), *SEED_LAYERS[1:]]
    arch = write_architecture(tmp_path / "deep.json", layers)
    out = tmp_path / "deep.h5"
    result = run(cnnkit_bin, "train", "--data", data_dir, "--limit", "8", "--arch", arch, "--out", out)
    assert result.returncode != 0, result.stderr
    assert "before training" in result.stderr and "epoch 1/1" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.json"]


def test_epochs_0_still_writes_the_initialised_model_once(cnnkit_bin, cnnkit, data_dir, tmp_path):
    out = tmp_path / "init.h5"
    cnnkit("train", "--data", data_dir, *QUICK, "--epochs", "0", "--out", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["init.h5"]
    cnnkit("verify", out)


@pytest.mark.parametrize("name", ["model.ckpt", "model.bin", "model"])
def test_an_output_name_without_a_known_extension_is_refused_before_training(cnnkit_bin, data_dir, tmp_path, name):
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--out", tmp_path / name)
    assert result.returncode == 64, result.stderr
    assert ".cnnz" in result.stderr and "epoch 1/1" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_resuming_with_fewer_epochs_than_done_is_refused(cnnkit_bin, cnnkit, data_dir, tmp_path):
    two = tmp_path / "two.cnnz"
    cnnkit("train", "--data", data_dir, *QUICK, "--epochs", "2", "--out", two)
    copy = tmp_path / "copy.cnnz"
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--resume", two, "--epochs", "1", "--out", copy)
    assert result.returncode == 64, result.stderr
    assert "--epochs 1" in result.stderr and "2 epochs" in result.stderr
    assert not copy.exists()


def test_adam_refuses_momentum(cnnkit_bin, data_dir, tmp_path):
    for extra in (["--momentum", "0.9"], ["--nesterov"]):
        result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--optimizer", "adam", *extra, "--out", tmp_path / "a.h5")
        assert result.returncode == 64, result.stderr
        assert "adam" in result.stderr.lower()
