"""PyTorch interop with real torch: state dicts saved by torch.save read by CNNKit (inferred or --architecture),
CNNKit's .pt read by torch.load(weights_only=True) + load_state_dict, and the refusals of the data-only pickle
reader (globals, nesting, memo, storages, damaged zips, TorchScript, the legacy format), each fast.

Mapping: Schemas/pytorch.md. Fixtures: Fixtures/pytorch/make_fixtures.py.
"""

import io
import json
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Fixtures" / "pytorch"
INFERRED = ["conv_relu_pool", "two_conv_inferred", "float64", "float16", "bfloat16", "strided"]


def predict(cnnkit, model, images, *extra):
    return np.array(json.loads(cnnkit("predict", model, images, "--json", *extra).stdout)["probabilities"], dtype=np.float64)


def torch_probabilities(module, images):
    """The module's softmax over its logits for NHWC raw pixels, in float32."""
    with torch.no_grad():
        return torch.softmax(module.float()(torch.from_numpy(images).permute(0, 3, 1, 2)), dim=1).double().numpy()


# --- torch -> CNNKit -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INFERRED)
def test_fixture_inferred_predicts_as_torch(name, cnnkit, tmp_path):
    out = tmp_path / f"{name}.cnnz"
    cnnkit("convert", FIXTURES / f"{name}.pt", out)
    expected = np.array(json.loads((FIXTURES / f"{name}.expected.json").read_text())["probabilities"])
    got = predict(cnnkit, out, FIXTURES / f"{name}.inputs.npy")
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # The .pt itself predicts the same (read in place, no conversion).
    np.testing.assert_allclose(predict(cnnkit, FIXTURES / f"{name}.pt", FIXTURES / f"{name}.inputs.npy"), expected, atol=1e-5, rtol=0)


def test_convert_prints_what_was_inferred(cnnkit, tmp_path):
    lines = cnnkit("convert", FIXTURES / "conv_relu_pool.pt", tmp_path / "x.cnnz").stdout.splitlines()
    assert lines[1].startswith("architecture inferred (recorded in the metadata): nn.Sequential(nn.Conv2d(1, 4"), lines
    assert "softmax added after the last Linear (the source ends in logits)" in lines[1]
    assert lines[2].startswith("verified "), lines
    # Not with --architecture, and the converted file keeps the record.
    assert "pytorch.inferred_architecture" in cnnkit("inspect", tmp_path / "x.cnnz").stdout
    arch = json.loads(cnnkit("inspect", tmp_path / "x.cnnz", "--json").stdout)["architecture"]
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    out = cnnkit("convert", FIXTURES / "conv_relu_pool.pt", tmp_path / "y.cnnz", "--architecture", tmp_path / "arch.json").stdout
    assert "inferred" not in out, out
    # A file converted from it carries the record but infers nothing itself.
    assert "inferred" not in cnnkit("convert", tmp_path / "x.cnnz", tmp_path / "z.safetensors").stdout


def test_inspect_says_what_was_inferred(cnnkit):
    text = cnnkit("inspect", FIXTURES / "two_conv_inferred.pt").stdout
    assert "pytorch.inferred_architecture" in text
    assert "nn.Conv2d(1, 4, kernel_size=(3, 3)" in text and "input 26x26x1" in text
    assert "softmax added" in text and "scale 1, offset 0" in text
    report = json.loads(cnnkit("inspect", FIXTURES / "float16.pt", "--json").stdout)
    assert report["format"] == "pt"
    assert {t["dtype"] for t in report["tensors"]} == {"float16"}


def test_given_architecture(cnnkit, tmp_path):
    """Not square and its pools drop a row: inference refuses, --architecture maps it."""
    name = "two_conv_hidden"
    result = cnnkit("convert", FIXTURES / f"{name}.pt", tmp_path / "x.cnnz", expect=65)
    assert "cannot infer the architecture" in result.stderr and "--architecture" in result.stderr
    cnnkit("convert", FIXTURES / f"{name}.pt", tmp_path / "x.cnnz", "--architecture", FIXTURES / f"{name}.arch.json")
    expected = np.array(json.loads((FIXTURES / f"{name}.expected.json").read_text())["probabilities"])
    np.testing.assert_allclose(predict(cnnkit, tmp_path / "x.cnnz", FIXTURES / f"{name}.inputs.npy"), expected, atol=1e-5, rtol=0)


def test_ambiguous_asks_for_architecture(cnnkit, tmp_path):
    result = cnnkit("convert", FIXTURES / "ambiguous.pt", tmp_path / "x.cnnz", expect=65)
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "index 1 (between 0.weight and 2.weight) can be ReLU or MaxPool2d(2)" in line, line
    assert "--architecture" in line


def test_mismatch_names_key_and_both_shapes(cnnkit, tmp_path):
    arch = json.loads((FIXTURES / "two_conv_hidden.arch.json").read_text())
    arch["layers"][0]["filters"] = 5
    (tmp_path / "a.json").write_text(json.dumps(arch))
    result = cnnkit("inspect", FIXTURES / "two_conv_hidden.pt", "--architecture", tmp_path / "a.json", expect=65)
    assert "key 0.weight: shape [4, 3, 3, 2], but layer conv2d needs [5, 3, 3, 2]" in result.stderr, result.stderr


def random_family_model(rng):
    """A random nn.Sequential of the inferable family, its input shape (C, H, W) and its layer list."""
    c = int(rng.integers(1, 4))
    side = int(rng.integers(3, 6))
    layers, channels, blocks = [], c, int(rng.integers(1, 3))
    for _ in range(blocks):
        k = int(rng.choice([1, 2, 3]))
        out = int(rng.integers(1, 6))
        layers += [nn.Conv2d(channels, out, k, bias=bool(rng.integers(0, 2))), nn.ReLU(), nn.MaxPool2d(2)]
        channels = out
    # Size: each block is conv (k - 1 lost) then a pool halving exactly; build the input backwards.
    h = side
    for layer in reversed(layers):
        if isinstance(layer, nn.MaxPool2d):
            h *= 2
        elif isinstance(layer, nn.Conv2d):
            h += layer.kernel_size[0] - 1
    hidden = int(rng.integers(2, 9))
    layers += [nn.Flatten(), nn.Linear(channels * side * side, hidden), nn.ReLU(), nn.Linear(hidden, int(rng.integers(2, 6)))]
    return nn.Sequential(*layers), (c, h, h)


@pytest.mark.parametrize("trial", range(3))
def test_random_models_both_ways(trial, cnnkit, tmp_path):
    seed = int(np.random.default_rng().integers(1, 1 << 30))
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    module, (c, h, w) = random_family_model(rng)
    for p in module.parameters():
        # Larger weights than the default init, so that the probabilities are not all near uniform.
        p.data.mul_(3)
    torch.save(module.state_dict(), tmp_path / "x.pt")
    images = rng.integers(0, 256, size=(5, h, w, c)).astype(np.float32) / 64
    np.save(tmp_path / "images.npy", images)
    expected = torch_probabilities(module, images)

    cnnkit("convert", tmp_path / "x.pt", tmp_path / "x.cnnz")
    got = predict(cnnkit, tmp_path / "x.cnnz", tmp_path / "images.npy")
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=f"seed {seed}")

    # CNNKit -> .pt -> torch.load(weights_only=True) + load_state_dict into the same nn.Sequential.
    cnnkit("convert", tmp_path / "x.cnnz", tmp_path / "back.pt")
    state = torch.load(tmp_path / "back.pt", weights_only=True)
    fresh, _ = random_family_model(np.random.default_rng(seed))
    fresh.load_state_dict(state, strict=True)
    np.testing.assert_allclose(torch_probabilities(fresh, images), got, atol=1e-5, rtol=0, err_msg=f"seed {seed}")
    for key, value in module.state_dict().items():
        assert torch.equal(state[key], value), key

    # .pt <-> .cnnz exact under verify --against, both ways.
    report = json.loads(cnnkit("verify", tmp_path / "back.pt", "--against", tmp_path / "x.pt", "--json").stdout)
    assert report["passed"], report
    against = next(c for c in report["checks"] if c["name"] == "against")
    assert "max abs error 0," in against["detail"] and "(exact equality)" in against["detail"], against
    report = json.loads(cnnkit("verify", tmp_path / "x.cnnz", "--against", tmp_path / "back.pt", "--json").stdout)
    assert "(exact equality)" in next(c for c in report["checks"] if c["name"] == "against")["detail"], report


def test_cnnkit_model_to_torch(cnnkit, tmp_path, data_dir):
    """A model CNNKit trained (with its own preprocessing) -> .pt -> torch, preprocessing applied by the caller."""
    cnnkit("train", "--data", data_dir, "--limit", "200", "--batch-size", "16", "--epochs", "1", "--out", tmp_path / "m.cnnz")
    cnnkit("convert", tmp_path / "m.cnnz", tmp_path / "m.pt")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    # The seed architecture, as Schemas/pytorch.md section 4 defines the module: layer indices follow CNNKit's layers.
    module = nn.Sequential(nn.Conv2d(1, 16, 3, bias=False), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 13 * 13, 10), nn.Softmax(dim=1))
    module.load_state_dict(state, strict=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    got = predict(cnnkit, tmp_path / "m.cnnz", tmp_path / "images.npy")
    with torch.no_grad():
        x = torch.from_numpy(images / 255.0 - 0.5).float().permute(0, 3, 1, 2)
        np.testing.assert_allclose(module(x).double().numpy(), got, atol=1e-5, rtol=0)
    # CNNKit reads its own .pt back with the architecture and preprocessing it recorded.
    np.testing.assert_allclose(predict(cnnkit, tmp_path / "m.pt", tmp_path / "images.npy"), got, atol=0, rtol=0)


def test_written_zip_layout(cnnkit, tmp_path):
    cnnkit("convert", FIXTURES / "conv_relu_pool.pt", tmp_path / "x.pt")
    with zipfile.ZipFile(tmp_path / "x.pt") as z:
        names = z.namelist()
        assert names[0] == "archive/data.pkl"
        assert {"archive/byteorder", "archive/version", "archive/data/0"} <= set(names)
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            with open(tmp_path / "x.pt", "rb") as f:
                f.seek(info.header_offset + 28)
                local_extra = int.from_bytes(f.read(2), "little")
            assert (info.header_offset + 30 + len(info.filename.encode()) + local_extra) % 64 == 0, info.filename
        ops = {op.name for op, _, _ in __import__("pickletools").genops(z.read("archive/data.pkl"))}
        assert ops <= {"PROTO", "GLOBAL", "BINPUT", "BINGET", "EMPTY_TUPLE", "REDUCE", "MARK", "BINUNICODE", "BININT1", "BININT2",
                       "BININT", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "BINPERSID", "NEWFALSE", "SETITEMS", "STOP"}, ops


# --- refusals --------------------------------------------------------------------------------------------------


def torch_zip(pickle_bytes, storages=None, extra=None):
    """A torch.save-shaped zip with this data.pkl (first member) and these storages."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("x/data.pkl", pickle_bytes)
        z.writestr("x/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"x/data/{key}", data)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        z.writestr("x/version", "3\n")
    return buffer.getvalue()


def refused(cnnkit, path, *needles):
    start = time.monotonic()
    result = cnnkit("inspect", path, expect=65)
    elapsed = time.monotonic() - start
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert str(path) in line, line
    for needle in needles:
        assert needle in line, line
    assert elapsed < 1.0, f"{elapsed:.2f} s: {line}"
    return line


@pytest.mark.parametrize("module,name", [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("posix", "system")])
def test_refused_globals_never_run(module, name, cnnkit, tmp_path):
    canary = tmp_path / "canary"
    command = f"touch {canary}"
    if (module, name) == ("builtins", "eval"):
        command = f"open({str(canary)!r}, 'w').close()"
    if (module, name) == ("subprocess", "Popen"):
        call = b"(X" + len(b"touch").to_bytes(4, "little") + b"touch" + b"X" + len(str(canary).encode()).to_bytes(4, "little") + str(canary).encode() + b"l\x85"
    else:
        call = b"X" + len(command.encode()).to_bytes(4, "little") + command.encode() + b"\x85"
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + call + b"R."
    if (module, name) == ("os", "system"):
        # The payload works: Python's own unpickler creates the canary (in a child process), so the check below can fail.
        subprocess.run([sys.executable, "-c", f"import pickle; pickle.loads({payload!r})"], check=False)
        assert canary.exists()
        canary.unlink()
    path = tmp_path / "evil.pt"
    path.write_bytes(torch_zip(payload))
    refused(cnnkit, path, f"global {module}.{name} is refused", "x/data.pkl", "at byte 2")
    assert not canary.exists()


def test_refused_global_inside_a_real_state_dict(cnnkit, tmp_path):
    """The reduce payload where a tensor would be, in a file torch made."""
    with zipfile.ZipFile(FIXTURES / "conv_relu_pool.pt") as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    prefix = next(n for n in members if n.endswith("data.pkl")).rsplit("/", 1)[0]
    data = members[f"{prefix}/data.pkl"]
    evil = data.replace(b"ctorch._utils\n_rebuild_tensor_v2\n", b"cos\nsystem\n\x85\x85\x85\x85\x85\x85\x85\x85\x85\x85\x85")
    members[f"{prefix}/data.pkl"] = evil[: len(data)] if len(evil) > len(data) else evil
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in [f"{prefix}/data.pkl"] + [n for n in members if not n.endswith("data.pkl")]:
            z.writestr(name, members[name])
    (tmp_path / "evil.pt").write_bytes(buffer.getvalue())
    refused(cnnkit, tmp_path / "evil.pt", "global os.system is refused")


def test_deep_nesting(cnnkit, tmp_path):
    for i, body in enumerate([b"(" * 100_000, b"]" * 100_000, b")" + b"\x85" * 100_000, b"}" + b"(" * 50_000]):
        path = tmp_path / f"deep{i}.pt"
        path.write_bytes(torch_zip(b"\x80\x02" + body + b"."))
        line = refused(cnnkit, path)
        assert "nesting depth" in line or "stack size" in line, line


def test_huge_memo(cnnkit, tmp_path):
    body = b"N" + b"".join(b"r" + i.to_bytes(4, "little") for i in range(1_000_000))
    path = tmp_path / "memo.pt"
    path.write_bytes(torch_zip(b"\x80\x02" + body + b"0."))
    refused(cnnkit, path, "the memo size goes over the limit of 100000")


def test_storage_larger_than_its_member(cnnkit, tmp_path):
    with zipfile.ZipFile(FIXTURES / "conv_relu_pool.pt") as z:
        infos = z.infolist()
        members = [(i.filename, z.read(i.filename)) for i in infos]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members:
            z.writestr(name, data[:-8] if name.endswith("/data/0") else data)
    (tmp_path / "short.pt").write_bytes(buffer.getvalue())
    refused(cnnkit, tmp_path / "short.pt", "conv_relu_pool/data/0", "holds 136 bytes", "of 36 float32 elements needs 144")


def test_view_past_its_storage(cnnkit, tmp_path):
    """A tensor whose storage offset puts its last element outside the storage."""
    with zipfile.ZipFile(FIXTURES / "float64.pt") as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members:
            if name.endswith("data.pkl"):
                # The first tensor's storage offset (BININT1 0 after BINPERSID) becomes 1.
                at = data.index(b"Q")
                assert data[at + 1 : at + 3] == b"K\x00"
                data = data[: at + 1] + b"K\x01" + data[at + 3 :]
            z.writestr(name, data)
    (tmp_path / "offset.pt").write_bytes(buffer.getvalue())
    refused(cnnkit, tmp_path / "offset.pt", "storage offset 1 reaches element 18, but the storage holds 18 elements")


def test_truncated_zip(cnnkit, tmp_path):
    data = (FIXTURES / "conv_relu_pool.pt").read_bytes()
    for cut in [len(data) // 2, len(data) - 30, 100]:
        path = tmp_path / f"cut{cut}.pt"
        path.write_bytes(data[:cut])
        result = cnnkit("inspect", path, expect=65)
        assert str(path) in result.stderr


def test_torchscript(cnnkit, tmp_path):
    module = torch.jit.script(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(32, 3)))
    torch.jit.save(module, tmp_path / "script.pt")
    for path in [tmp_path / "script.pt", FIXTURES / "torchscript.pt"]:
        refused(cnnkit, path, "a TorchScript archive (torch.jit.save)", "torch.save(model.state_dict(), path)")


def test_legacy_format(cnnkit, tmp_path):
    torch.save(nn.Linear(2, 3).state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    for path in [tmp_path / "old.pt", FIXTURES / "legacy.pt"]:
        refused(cnnkit, path, "legacy torch.save file", "torch.save(model.state_dict(), path)")


def test_checkpoint_dict_is_refused_by_key(cnnkit, tmp_path):
    torch.save({"epoch": 3, "model": nn.Linear(2, 3).state_dict()}, tmp_path / "ckpt.pt")
    refused(cnnkit, tmp_path / "ckpt.pt", "key epoch: holds an int, not a tensor")


def test_batchnorm_is_refused_by_key(cnnkit, tmp_path):
    torch.save(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).state_dict(), tmp_path / "bn.pt")
    line = refused(cnnkit, tmp_path / "bn.pt")
    assert "key 1.running_mean" in line or "key 1.num_batches_tracked" in line, line


def test_other_zips_are_not_taken_for_pt(cnnkit):
    assert json.loads(cnnkit("inspect", ROOT / "Fixtures" / "npz" / "tiny_savez.npz", "--architecture",
                             ROOT / "Fixtures" / "safetensors" / "tiny.arch.json", "--json").stdout)["format"] == "npz"
    assert json.loads(cnnkit("inspect", ROOT / "Fixtures" / "keras" / "keras3_seed_sgd.keras", "--json").stdout)["format"] == "keras"
