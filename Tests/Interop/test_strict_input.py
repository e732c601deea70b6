"""Strict input and truthful output (Documentation/cli.md, sections 1.4, 1.7, 1.8, 2.4, 2.7, 3.1).

Architecture JSON is checked against every rule of Schemas/architecture.schema.json, option values are checked
the same way in every command, an output format that cannot be told from the name needs --to, options a format
would ignore are refused, float images in [0, 1] are warned about, `diff` compares the training state, `verify`
says what an HDF5 file's checksums actually covered, and every fixture that carries probes verifies.
"""

import json
import subprocess

import h5py
import numpy as np
import pytest

from conftest import PACKAGE_ROOT

FIXTURES = PACKAGE_ROOT / "Fixtures"
QUICK = ["--limit", "100", "--batch-size", "8", "--seed", "3"]


def run(cnnkit_bin, *args, **kwargs):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def model(tmp_path_factory, cnnkit, data_dir):
    path = tmp_path_factory.mktemp("strict") / "seed.h5"
    cnnkit("train", "--data", data_dir, *QUICK, "--epochs", "1", "--out", path)
    return path


# Architecture JSON ------------------------------------------------------------------------------------------------

BASE = {"input": {"height": 28, "width": 28, "channels": 1},
        "layers": [{"type": "conv2d", "filters": 2, "kernel": [3, 3]}, {"type": "maxpool2d"}, {"type": "flatten"},
                   {"type": "dense", "units": 10}, {"type": "softmax"}]}


def variant(edit):
    document = json.loads(json.dumps(BASE))
    edit(document)
    return document


@pytest.mark.parametrize("document,expected", [
    (variant(lambda d: d["layers"][0].update(kernal=[5, 5])),
     ["unknown key 'kernal'", "layers[0]", "did you mean 'kernel'?"]),
    (variant(lambda d: d.update(layer=[])), ["unknown key 'layer'", "did you mean 'layers'?"]),
    (variant(lambda d: d["input"].update(chanels=1)), ["unknown key 'chanels'", "input", "did you mean 'channels'?"]),
    (variant(lambda d: d["layers"][1].update(units=3)), ["unknown key 'units'", "layers[1]", "maxpool2d"]),
    (variant(lambda d: d["layers"][0].update(name="")), ["layers[0].name", "empty"]),
    (variant(lambda d: d["layers"][0].update(name="a.b")), ["layers[0].name", "'.'"]),
    (variant(lambda d: d["layers"][0].update(kernel=[5])), ["layers[0].kernel", "2"]),
    (variant(lambda d: d["layers"][0].update(padding="full")), ["layers[0].padding", "valid", "same"]),
    (variant(lambda d: d.update(preprocessing={"scale": 1})), ["preprocessing", "offset"]),
    (variant(lambda d: d.update(version=2)), ["version"]),
])
def test_architecture_json_is_checked_against_every_schema_rule(cnnkit_bin, data_dir, tmp_path, document, expected):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(document))
    result = run(cnnkit_bin, "train", "--data", data_dir, *QUICK, "--arch", arch, "--epochs", "0", "--out", tmp_path / "m.h5")
    assert result.returncode == 65, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    assert str(arch) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_every_example_architecture_is_accepted(cnnkit, data_dir, tmp_path):
    for path in (PACKAGE_ROOT / "Examples" / "architectures").glob("*.json"):
        cnnkit("train", "--data", data_dir, "--limit", "10", "--arch", path, "--epochs", "0", "--out", tmp_path / "m.cnnz")


# Option values ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args,message", [
    (["train", "--epochs", "-1"], "--epochs must be 0 or more, found -1"),
    (["train", "--batch-size", "-2"], "--batch-size must be 1 or more, found -2"),
    (["train", "--limit", "-1"], "--limit must be 1 or more, found -1"),
    (["train", "--threads", "-1"], "--threads must be 1 or more, found -1"),
    (["train", "--threads", "0"], "--threads must be 1 or more, found 0"),
    (["train", "--checkpoint-every", "-5", "--out", "x.h5"], "--checkpoint-every must be 1 or more, found -5"),
    (["train", "--lr", "-0.1"], "--lr must be a positive number, found -0.1"),
    (["evaluate", "m.h5", "--limit", "-3"], "--limit must be 1 or more, found -3"),
    (["evaluate", "m.h5", "--threads", "-1"], "--threads must be 1 or more, found -1"),
    (["predict", "m.h5", "x.npy", "--threads", "0"], "--threads must be 1 or more, found 0"),
    (["verify", "m.h5", "--data", "d", "--limit", "-1"], "--limit must be 1 or more, found -1"),
    (["verify", "m.h5", "--atol", "-1"], "--atol must be 0 or more, found -1"),
    (["convert", "a.h5", "b.cnnz", "--level", "-1"], "--level must be 1 to 22, found -1"),
    (["convert", "a.h5", "b.cnnz", "--level", "23"], "--level must be 1 to 22, found 23"),
    (["convert", "a.h5", "b.cnnz", "--compression", "deflate", "--level", "12"], "--level must be 0 to 9, found 12"),
    (["train", "--out", "m.cnnz", "--compression", "zstd", "--level", "0"], "--level must be 1 to 22, found 0"),
    (["train", "--out", "m.npz", "--compression", "zstd"], "--compression zstd: CNNKit writes npz with deflate only"),
    (["train", "--no-save", "--level", "3"], "--compression and --level apply to --out FILE"),
    (["demo", "--threads", "-2"], "--threads must be 1 or more, found -2"),
])
def test_option_values_are_checked_the_same_way_everywhere(cnnkit_bin, args, message):
    result = run(cnnkit_bin, *args)
    assert result.returncode == 64, result.stderr
    assert message in result.stderr, result.stderr
    assert "Missing value" not in result.stderr


def test_help_for_an_unknown_subcommand_exits_64(cnnkit_bin):
    result = run(cnnkit_bin, "help", "foo")
    assert result.returncode == 64, result.stdout + result.stderr
    assert "foo" in result.stderr and "train" in result.stderr
    assert run(cnnkit_bin, "help", "train").returncode == 0
    assert run(cnnkit_bin, "help").returncode == 0


# Output formats and the options they take -------------------------------------------------------------------------


@pytest.mark.parametrize("name,extension", [("out.ckpt", "'.ckpt'"), ("out.bin", "'.bin'"), ("out", "no extension")])
def test_an_output_format_the_name_does_not_tell_needs_to(cnnkit_bin, model, tmp_path, name, extension):
    result = run(cnnkit_bin, "convert", model, tmp_path / name)
    assert result.returncode == 64, result.stderr
    assert extension in result.stderr and "--to" in result.stderr and "cnnz" in result.stderr
    assert not (tmp_path / name).exists()
    run_with_to = run(cnnkit_bin, "convert", model, tmp_path / name, "--to", "cnnz")
    assert run_with_to.returncode == 0, run_with_to.stderr


def test_to_that_contradicts_the_extension_warns(cnnkit_bin, model, tmp_path):
    out = tmp_path / "o.h5"
    result = run(cnnkit_bin, "convert", model, out, "--to", "npz")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "npz" in result.stderr and "hdf5" in result.stderr
    assert out.read_bytes()[:2] == b"PK"


@pytest.mark.parametrize("name,options,words", [
    ("o.safetensors", ["--compression", "deflate"], ["--compression deflate", "safetensors"]),
    ("o.onnx", ["--compression", "deflate"], ["--compression deflate", "ONNX"]),
    ("o.onnx", ["--compression", "deflate", "--level", "9"], ["--compression deflate", "ONNX"]),
    ("o.h5", ["--level", "9"], ["--level 9", "--compression deflate"]),
    ("o.cnnz", ["--compression", "none", "--level", "3"], ["--level 3", "--compression none"]),
    ("o.safetensors", ["--compression", "zstd"], ["--compression zstd", "safetensors"]),
    ("o.h5", ["--compression", "zstd"], ["--compression zstd: CNNKit writes HDF5 with deflate only"]),
    ("o.keras", ["--compression", "zstd", "--level", "3"], ["--compression zstd", "zstd is for CNNZ"]),
])
def test_options_a_format_would_ignore_are_refused(cnnkit_bin, model, tmp_path, name, options, words):
    result = run(cnnkit_bin, "convert", model, tmp_path / name, *options)
    assert result.returncode == 64, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert not (tmp_path / name).exists()


def test_level_is_taken_where_the_format_compresses_by_default(cnnkit, model, tmp_path):
    cnnkit("convert", model, tmp_path / "o.cnnz", "--level", "9")
    cnnkit("convert", model, tmp_path / "o19.cnnz", "--level", "19")
    # zstd's level reaches libzstd: level 19 searches harder than the default 1, so the files differ.
    cnnkit("convert", model, tmp_path / "o1.cnnz", "--compression", "zstd")
    assert (tmp_path / "o19.cnnz").read_bytes() != (tmp_path / "o1.cnnz").read_bytes()


# Images ----------------------------------------------------------------------------------------------------------


def test_predict_warns_about_float_images_already_scaled(cnnkit_bin, model, tmp_path, data_dir):
    import gzip

    raw = np.frombuffer(gzip.open(data_dir / "t10k-images-idx3-ubyte.gz").read()[16:], dtype=np.uint8).reshape(-1, 28, 28)[:4]
    scaled = tmp_path / "scaled.npy"
    np.save(scaled, raw.astype(np.float32) / 255)
    result = run(cnnkit_bin, "predict", model, scaled)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and str(scaled) in result.stderr and "[0, 1]" in result.stderr
    assert "0-255" in result.stderr
    pixels = tmp_path / "pixels.npy"
    np.save(pixels, raw.astype(np.float32))
    clean = run(cnnkit_bin, "predict", model, pixels)
    assert clean.returncode == 0 and "warning" not in clean.stderr


# Output that tells the truth ------------------------------------------------------------------------------------


def test_diff_compares_the_training_state(cnnkit_bin, cnnkit, model, tmp_path):
    light = tmp_path / "light.h5"
    cnnkit("convert", model, light, "--weights-only")
    result = run(cnnkit_bin, "diff", model, light)
    assert result.returncode == 1, result.stdout
    assert "training state" in result.stdout and "identical" not in result.stdout
    report = json.loads(run(cnnkit_bin, "diff", model, light, "--json").stdout)
    assert not report["passed"] and report["training_state_differences"]
    same = run(cnnkit_bin, "diff", model, model)
    assert same.returncode == 0 and "training state" in same.stdout


def test_diff_names_a_changed_optimizer_setting(cnnkit_bin, cnnkit, data_dir, model, tmp_path):
    resumed = tmp_path / "lr.h5"
    cnnkit("train", "--data", data_dir, *QUICK, "--resume", model, "--epochs", "1", "--lr", "0.5", "--out", resumed)
    result = run(cnnkit_bin, "diff", model, resumed)
    assert result.returncode == 1 and "learning rate" in result.stdout, result.stdout


def test_hdf5_without_filters_does_not_claim_checksums(cnnkit, model, tmp_path):
    with h5py.File(model) as f:
        assert f["model_weights/dense/sequential/dense/kernel"].fletcher32 is False
    for command in ("inspect", "verify"):
        text = cnnkit(command, model).stdout
        assert "Fletcher-32 checksums verified" not in text
        assert "datasets carries a Fletcher-32 checksum, so libhdf5 verified no checksum" in text, text
    compressed = tmp_path / "deflate.h5"
    cnnkit("convert", model, compressed, "--compression", "deflate")
    text = cnnkit("verify", compressed).stdout
    with h5py.File(compressed) as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
        with_checksum = sum(d.fletcher32 for d in datasets)
    assert 0 < with_checksum <= len(datasets)
    assert f"Fletcher-32 checksums of {with_checksum} of {len(datasets)} datasets verified" in text, text


def test_demo_into_a_file_exits_73(cnnkit_bin, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(cnnkit_bin, "demo", "--out-dir", blocker)
    assert result.returncode == 73, result.stderr
    assert "internal error" not in result.stderr and str(blocker) in result.stderr and "not a folder" in result.stderr


# Fixtures ----------------------------------------------------------------------------------------------------------

MODEL_SUFFIXES = (".h5", ".hdf5", ".cnnz", ".keras", ".safetensors", ".npz")
TINY_ARCH = "Fixtures/safetensors/tiny.arch.json"
# Files that carry no architecture, and where to take it from: a JSON file, or the .keras file of the same model.
ARCHITECTURES = {
    "Fixtures/safetensors/tiny_plain.safetensors": TINY_ARCH,
    "Fixtures/safetensors/tiny_mixed_dtypes.safetensors": TINY_ARCH,
    "Fixtures/npz/tiny_savez.npz": TINY_ARCH,
    "Fixtures/npz/tiny_variants.npz": TINY_ARCH,
    "Fixtures/npz/tiny_npy_versions.npz": TINY_ARCH,
    "Fixtures/golden/inputs/keras3_two_conv_adam.weights.h5": "Fixtures/golden/inputs/keras3_two_conv_adam.arch.json",
    "Fixtures/keras/keras3_seed_sgd.weights.h5": "Fixtures/keras/keras3_seed_sgd.keras",
    "Fixtures/keras/keras3_two_conv_adam.weights.h5": "Fixtures/keras/keras3_two_conv_adam.keras",
}
# Fixtures that exist to be refused (an unsupported layer or option; Fixtures/hdf5/hang, damaged files on which
# libhdf5 loops); the fuzz corpus is left out too.
REFUSED = ("unsupported",)


def fixture_models():
    for path in sorted(FIXTURES.rglob("*")):
        relative = path.relative_to(PACKAGE_ROOT).as_posix()
        # Fuzz corpora (Fixtures/*/corpus, Fixtures/hdf5/*-corpus) and the damaged files kept for libhdf5's own
        # failures (Fixtures/hdf5/hang, Fixtures/hdf5/libhdf5) and the mutants make torture found
        # (Fixtures/hdf5/torture, Fixtures/pytorch/torture) exist to be refused, not verified.
        if (path.suffix in MODEL_SUFFIXES and "/corpus/" not in relative and "-corpus/" not in relative
                and "/hdf5/hang/" not in relative and "/hdf5/libhdf5/" not in relative and "/torture/" not in relative
                and not any(r in path.name for r in REFUSED)):
            yield relative


def test_fixture_list_is_not_empty():
    found = list(fixture_models())
    assert "Fixtures/cnnz/tiny.cnnz" in found and len(found) >= 20


@pytest.mark.parametrize("relative", list(fixture_models()))
def test_every_fixture_with_probes_verifies(cnnkit_bin, cnnkit, tmp_path, relative):
    """Every fixture is read (with its architecture where it carries none); those with probes verify (exit 0)."""
    source = ARCHITECTURES.get(relative)
    extra = []
    if source and source.endswith(".keras"):
        arch = tmp_path / "arch.json"
        arch.write_text(json.dumps(json.loads(cnnkit("inspect", PACKAGE_ROOT / source, "--json").stdout)["architecture"]))
        extra = ["--architecture", arch]
    elif source:
        extra = ["--architecture", PACKAGE_ROOT / source]
    inspected = run(cnnkit_bin, "inspect", PACKAGE_ROOT / relative, *extra, "--json")
    assert inspected.returncode == 0, f"cnnkit inspect {relative}: {inspected.stderr}"
    if "probes" not in json.loads(inspected.stdout):
        pytest.skip(f"{relative} carries no probes")
    result = run(cnnkit_bin, "verify", PACKAGE_ROOT / relative, *extra)
    assert result.returncode == 0, f"cnnkit verify {relative}:\n{result.stdout}{result.stderr}"
