"""`cnnkit predict` on a raw CNNZ file maps it and uses the weights in place (Schemas/cnnz.md section 10).

A file truncated by another process while it is mapped cannot be read any more (the kernel raises SIGBUS when a
lost page is touched); predict must then say so, naming the file, and exit 65, never crash silently.
"""

import gzip
import json
import os
import subprocess
import time

import numpy as np


def test_predict_from_a_mapped_file_equals_predict_from_a_copy(cnnkit, data_dir, tmp_path):
    arch = tmp_path / "a.json"
    arch.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
        {"type": "conv2d", "filters": 4, "kernel": [3, 3], "bias": True}, {"type": "relu"},
        {"type": "flatten"}, {"type": "dense", "units": 10, "bias": True}, {"type": "softmax"}]}))
    raw = tmp_path / "m.cnnz"
    cnnkit("train", "--data", data_dir, "--arch", arch, "--epochs", "1", "--limit", "200", "--compression", "none", "--out", raw)
    cnnkit("convert", raw, tmp_path / "m.h5")
    images = tmp_path / "images.npy"
    pixels = gzip.open(data_dir / "t10k-images-idx3-ubyte.gz").read()[16:16 + 784 * 300]
    np.save(images, np.frombuffer(pixels, dtype=np.uint8).reshape(300, 28, 28))
    mapped = cnnkit("predict", raw, images, "--json").stdout
    for other in ("m.h5",):
        assert cnnkit("predict", tmp_path / other, images, "--json").stdout == mapped
    assert cnnkit("predict", raw, images, "--json", "--threads", "1").stdout == mapped


def test_predict_on_a_file_truncated_while_mapped_exits_65_naming_it(cnnkit, cnnkit_bin, data_dir, tmp_path):
    arch = tmp_path / "wide.json"
    arch.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 4096, "bias": True}, {"type": "softmax"}]}))
    model = tmp_path / "wide.cnnz"
    cnnkit("train", "--data", data_dir, "--arch", arch, "--epochs", "0", "--limit", "10", "--compression", "none", "--out", model)
    # All 10,000 test images: each reads the whole 12.8 MB kernel, so predict runs for a while.
    process = subprocess.Popen([str(cnnkit_bin), "predict", str(model), str(data_dir / "t10k-images-idx3-ubyte.gz")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while str(model) not in open(f"/proc/{process.pid}/maps").read():
            assert process.poll() is None and time.monotonic() < deadline, "predict never mapped the model"
            time.sleep(0.01)
        time.sleep(1.0)  # past the open's CRC check, into the predictions
        assert process.poll() is None, "predict finished before the file could be truncated"
        os.truncate(model, 4096)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 65, stderr
    assert f"cnnkit: {model}: the file changed size while it was mapped (SIGBUS)" in stderr
