"""File-system rules of Documentation/cli.md (sections 1.7 and 1.9) against the built `cnnkit` binary.

Outputs: only regular files are replaced (a FIFO, device, socket or folder at the output is refused with exit 73
and left as it is), symbolic links are written through, an existing file keeps its mode, and a failed write
(disk full) leaves the old file and nothing else. Inputs: a FIFO, device, socket, folder or symbolic link loop
is refused at once with exit 66 and a message naming the file and what it is. Every command that could block on
a FIFO runs under a timeout, so a regression fails instead of hanging.
"""

import hashlib
import json
import os
import socket
import stat
import subprocess
import time

import pytest

SMALL = ["--limit", "300", "--batch-size", "8", "--seed", "3"]
IS_ROOT = os.geteuid() == 0


def run(cnnkit_bin, *args, timeout=60):
    return subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory, cnnkit, data_dir):
    """The seed model trained briefly, as HDF5 (with probes)."""
    path = tmp_path_factory.mktemp("fs-model") / "seed.h5"
    cnnkit("train", "--data", data_dir, *SMALL, "--epochs", "1", "--out", path)
    return path


@pytest.fixture(scope="module")
def medium(tmp_path_factory, cnnkit, data_dir):
    """An initialised model of about 4 MB (conv 32 3x3, dense 48): bigger than the 2 MB tmpfs of the disk-full test."""
    folder = tmp_path_factory.mktemp("fs-medium")
    arch = folder / "medium.json"
    arch.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
        {"type": "conv2d", "filters": 32, "kernel": [3, 3], "bias": True}, {"type": "relu"}, {"type": "flatten"},
        {"type": "dense", "units": 48, "bias": True}, {"type": "relu"}, {"type": "dense", "units": 10, "bias": True},
        {"type": "softmax"}]}))
    path = folder / "medium.cnnz"
    cnnkit("train", "--data", data_dir, "--arch", arch, "--epochs", "0", "--limit", "8", "--out", path)
    assert path.stat().st_size > 4_000_000
    return path


# Outputs ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".cnnz", ".h5", ".keras", ".npz"])
def test_fifo_output_is_refused_with_73_and_stays_a_fifo(cnnkit_bin, model, tmp_path, extension):
    out = tmp_path / f"out{extension}"
    os.mkfifo(out)
    result = run(cnnkit_bin, "convert", model, out, timeout=60)
    assert result.returncode == 73, result.stderr
    assert one_error_line(result) == (f"cnnkit: {out}: cannot create: is a FIFO (named pipe), not a regular file; "
                                      "CNNKit replaces only regular files")
    assert stat.S_ISFIFO(os.lstat(out).st_mode)
    assert sorted(os.listdir(tmp_path)) == [out.name]


@pytest.mark.skipif(not IS_ROOT, reason="mknod of a character device needs root")
def test_device_output_like_dev_null_is_refused_and_stays_a_device(cnnkit_bin, model, tmp_path):
    # The measured bug: `cnnkit convert m.h5 /dev/null --to cnnz` replaced /dev/null. A device made with mknod in a
    # temporary folder stands in for it (major 1, minor 3 is /dev/null).
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for args in (["convert", model, null, "--to", "cnnz"], ["convert", model, null, "--to", "hdf5"]):
        result = run(cnnkit_bin, *args)
        assert result.returncode == 73, result.stderr
        assert "is a character device, not a regular file" in one_error_line(result)
        info = os.lstat(null)
        assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)
    assert sorted(os.listdir(tmp_path)) == ["null"]


def test_socket_and_folder_outputs_are_refused(cnnkit_bin, model, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "s.h5"))
    try:
        result = run(cnnkit_bin, "convert", model, tmp_path / "s.h5")
        assert result.returncode == 73 and "is a socket, not a regular file" in result.stderr, result.stderr
    finally:
        sock.close()
    (tmp_path / "d.cnnz").mkdir()
    result = run(cnnkit_bin, "convert", model, tmp_path / "d.cnnz")
    assert result.returncode == 73 and "is a folder, not a regular file" in result.stderr, result.stderr


def test_train_refuses_a_fifo_out_before_training(cnnkit_bin, data_dir, tmp_path):
    out = tmp_path / "ckpt.h5"
    os.mkfifo(out)
    result = run(cnnkit_bin, "train", "--data", data_dir, *SMALL, "--epochs", "1", "--out", out)
    assert result.returncode == 73, result.stderr
    assert "is a FIFO (named pipe)" in result.stderr
    assert result.stdout == "", "nothing was trained"


@pytest.mark.parametrize("extension", [".cnnz", ".h5", ".safetensors"])
def test_symlink_output_stays_a_link_and_its_target_gets_the_content(cnnkit, cnnkit_bin, model, tmp_path, extension):
    (tmp_path / "store").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "store" / f"real{extension}"
    link = tmp_path / "links" / f"current{extension}"
    link.symlink_to(f"../store/real{extension}")  # relative to the link's folder: dangling for now
    cnnkit("convert", model, link, "--no-verify")
    assert link.is_symlink() and os.readlink(link) == f"../store/real{extension}"
    assert target.is_file() and not target.is_symlink()
    first = sha256(target)
    cnnkit("convert", model, link)  # again, over the existing target, verified
    assert link.is_symlink() and sha256(target) == first
    cnnkit("verify", target)
    assert sorted(os.listdir(tmp_path / "links")) == [link.name]
    assert sorted(os.listdir(tmp_path / "store")) == [target.name]


def test_symlink_loop_output_says_so(cnnkit_bin, model, tmp_path):
    (tmp_path / "a.h5").symlink_to("b.h5")
    (tmp_path / "b.h5").symlink_to("a.h5")
    result = run(cnnkit_bin, "convert", model, tmp_path / "a.h5")
    assert result.returncode == 73
    assert one_error_line(result) == f"cnnkit: {tmp_path / 'a.h5'}: cannot create: symbolic link loop (too many levels of symbolic links)"


@pytest.mark.parametrize("extension", [".cnnz", ".h5", ".keras", ".npz", ".onnx"])
def test_existing_mode_is_kept_and_new_files_get_0644(cnnkit, model, tmp_path, extension):
    out = tmp_path / f"m{extension}"
    cnnkit("convert", model, out, "--no-verify")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    out.chmod(0o640)
    cnnkit("convert", model, out, "--no-verify")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == [out.name]


@pytest.mark.skipif(not IS_ROOT, reason="chown to another user needs root")
def test_existing_owner_is_kept(cnnkit, model, tmp_path):
    out = tmp_path / "m.cnnz"
    cnnkit("convert", model, out, "--no-verify")
    os.chown(out, 65534, 65534)
    cnnkit("convert", model, out, "--no-verify")
    assert (out.stat().st_uid, out.stat().st_gid) == (65534, 65534)


@pytest.mark.skipif(not IS_ROOT, reason="mounting a tmpfs needs root")
@pytest.mark.parametrize("extension", [".cnnz", ".h5"])
def test_disk_full_exits_74_keeps_the_old_file_and_leaves_nothing(cnnkit, cnnkit_bin, model, medium, tmp_path, extension):
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        out = mount / f"model{extension}"
        cnnkit("convert", model, out, "--no-verify")  # the old file: the small seed model (< 200 kB)
        old = sha256(out)
        result = run(cnnkit_bin, "convert", medium, out, "--no-verify", "--compression", "none")
        assert result.returncode == 74, result.stderr
        assert str(out) in result.stderr and "No space left on device" in result.stderr, result.stderr
        assert sha256(out) == old
        assert sorted(os.listdir(mount)) == [out.name]
        # A new file that does not fit leaves nothing at all.
        fresh = mount / f"fresh{extension}"
        result = run(cnnkit_bin, "convert", medium, fresh, "--no-verify", "--compression", "none")
        assert result.returncode == 74, result.stderr
        assert sorted(os.listdir(mount)) == [out.name]
        free = os.statvfs(mount)
        assert free.f_bfree * free.f_frsize > 1_500_000, "the space of the failed writes was given back"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# Inputs ----------------------------------------------------------------------------------------------------------


def refused_within_a_second(cnnkit_bin, *args):
    """Runs cnnkit; a FIFO read that blocks would hit the timeout and fail the test instead of hanging it."""
    start = time.monotonic()
    result = run(cnnkit_bin, *args, timeout=10)
    return result, time.monotonic() - start


def test_fifo_inputs_are_refused_at_once_with_66(cnnkit_bin, model, data_dir, tmp_path):
    fifo = tmp_path / "in.h5"
    os.mkfifo(fifo)
    message = f"cnnkit: {fifo}: cannot open: is a FIFO (named pipe), not a regular file"
    for args in (
        ["inspect", fifo],
        ["verify", fifo],
        ["convert", fifo, tmp_path / "out.cnnz"],
        ["diff", model, fifo],
        ["evaluate", fifo, "--data", data_dir, "--limit", "10"],
        ["predict", model, fifo],
        ["verify", model, "--against", fifo],
        ["verify", model, "--inputs", fifo],
        ["inspect", model, "--architecture", fifo],
        ["train", "--data", data_dir, "--arch", fifo, "--epochs", "0", "--no-save"],
        ["train", "--data", data_dir, "--resume", fifo, "--epochs", "0", "--no-save"],
    ):
        result, seconds = refused_within_a_second(cnnkit_bin, *args)
        assert result.returncode == 66, (args, result.stderr)
        assert one_error_line(result) == message, args
        assert result.stdout == ""
        assert seconds < 1.0, (args, seconds)
    assert not (tmp_path / "out.cnnz").exists()


def test_device_socket_and_folder_inputs_are_refused(cnnkit_bin, model, tmp_path):
    result, _ = refused_within_a_second(cnnkit_bin, "inspect", "/dev/zero")
    assert result.returncode == 66
    assert one_error_line(result) == "cnnkit: /dev/zero: cannot open: is a character device, not a regular file"
    result, _ = refused_within_a_second(cnnkit_bin, "predict", model, "/dev/zero")
    assert result.returncode == 66 and "is a character device" in result.stderr
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "s.cnnz"))
    try:
        result, _ = refused_within_a_second(cnnkit_bin, "inspect", tmp_path / "s.cnnz")
        assert result.returncode == 66 and "is a socket, not a regular file" in result.stderr
    finally:
        sock.close()
    result, _ = refused_within_a_second(cnnkit_bin, "inspect", tmp_path)
    assert result.returncode == 66 and one_error_line(result) == f"cnnkit: {tmp_path}: cannot open: is a folder"


def test_symlink_loop_input_says_so(cnnkit_bin, tmp_path):
    (tmp_path / "a.h5").symlink_to("b.h5")
    (tmp_path / "b.h5").symlink_to("a.h5")
    result, _ = refused_within_a_second(cnnkit_bin, "inspect", tmp_path / "a.h5")
    assert result.returncode == 66
    assert one_error_line(result) == f"cnnkit: {tmp_path / 'a.h5'}: cannot open: symbolic link loop (too many levels of symbolic links)"
    (tmp_path / "gone.h5").symlink_to("nothing.h5")
    result, _ = refused_within_a_second(cnnkit_bin, "inspect", tmp_path / "gone.h5")
    assert result.returncode == 66
    assert one_error_line(result) == f"cnnkit: {tmp_path / 'gone.h5'}: cannot open: no such file (dangling symbolic link)"


def test_a_symlinked_input_is_read(cnnkit, model, tmp_path):
    (tmp_path / "link.h5").symlink_to(model)
    cnnkit("inspect", tmp_path / "link.h5")


def test_fifo_in_the_data_folder_is_refused(cnnkit_bin, data_dir, tmp_path):
    # A data folder whose training images are a FIFO: refused naming the file, not read (exit 66).
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).symlink_to(data_dir / name)
    fifo = tmp_path / "train-images-idx3-ubyte.gz"
    os.mkfifo(fifo)
    result, seconds = refused_within_a_second(cnnkit_bin, "train", "--data", tmp_path, "--epochs", "0", "--limit", "10", "--no-save")
    assert result.returncode == 66, result.stderr
    assert one_error_line(result) == f"cnnkit: {fifo}: cannot read: is a FIFO (named pipe), not a regular file"
    assert seconds < 1.0
