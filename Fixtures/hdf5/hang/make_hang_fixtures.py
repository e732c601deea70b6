#!/usr/bin/env python3
"""Makes the HDF5 files on which libhdf5 1.10.8 never returns (Fixtures/hdf5/hang).

Each is a model CNNKit wrote with the 16-byte header of one global heap object zeroed: the object that holds
`/cnnkit@architecture`, a variable-length string. Its index then reads 0 (free space) and its size 0, and
libhdf5's walk over the collection's objects (H5HG__cache_heap_deserialize, reached from H5Aread -> H5HG_read ->
H5C_protect) sets its position to the object's start plus its size, 0: it never advances. h5dump loops the same
way on these files. CNNKit refuses them in its file driver (Sources/CNNKitHDF5Driver) and bounds every libhdf5
call with a watchdog (HDF5Library.timeLimit); Tests/Interop/test_hdf5_bounds.py checks both.

    python3 Fixtures/hdf5/hang/make_hang_fixtures.py CNNKIT_BIN [DATA_DIR]

trains a small model (`cnnkit train --limit 200 --epochs 1`, Fashion-MNIST from DATA_DIR, default
/usr/share/datasets/fashion-mnist), converts it to `.weights.h5` and `.keras`, and writes here:

- arch-gheap-free-size-0.h5          legacy full-model file
- arch-gheap-free-size-0.weights.h5  Keras 3 weights file (with our /cnnkit group, so it reads without
                                     --architecture)
- arch-gheap-free-size-0.keras       a .keras whose model.weights.h5 is the damaged weights file, re-zipped with
                                     correct CRC-32s (so the zip checks pass and libhdf5 gets the file)

The bytes depend on the cnnkit build that trained the model; the damage is always the same recipe, which
`damage()` applies and `python3 make_hang_fixtures.py --check` verifies on the committed files (each differs
from a sound file only in those 16 bytes: the script finds the object whose header was zeroed by the JSON
string that follows it).
"""

import io
import json
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "arch-gheap-free-size-0"
# A small network, so that the files are small (structure, not weights, takes most of their bytes).
ARCHITECTURE = {
    "version": 1,
    "input": {"height": 28, "width": 28, "channels": 1},
    "preprocessing": {"scale": 0.00392156862745098, "offset": -0.5},
    "layers": [
        {"type": "conv2d", "name": "conv2d", "filters": 2, "kernel": [3, 3], "stride": [2, 2], "padding": "valid", "bias": True},
        {"type": "relu", "name": "re_lu"},
        {"type": "maxpool2d", "name": "max_pooling2d", "pool": [2, 2], "stride": [2, 2], "padding": "valid"},
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "dense", "units": 10, "bias": True},
        {"type": "softmax", "name": "softmax"},
    ],
}


def global_heap_objects(data: bytes, length_size: int = 8):
    """Every object of every global heap collection (`GCOL`, version 1) in `data`: (header offset, collection
    offset, index, size, body)."""
    start = 0
    while (at := data.find(b"GCOL", start)) >= 0:
        start = at + 4
        if data[at + 4] != 1:
            continue
        size = int.from_bytes(data[at + 8:at + 8 + length_size], "little")
        end = min(at + size, len(data))
        p = at + 8 + length_size
        while p + 8 + length_size <= end:
            index, _refs = struct.unpack_from("<HH", data, p)
            length = int.from_bytes(data[p + 8:p + 8 + length_size], "little")
            if index == 0 or length == 0:
                break
            body = data[p + 8 + length_size:p + 8 + length_size + length]
            yield p, at, index, length, body
            p += 8 + length_size + (length + 7) // 8 * 8


def is_architecture(body: bytes) -> bool:
    return body.startswith(b'{"input":') and b'"layers"' in body


def damage(data: bytes) -> tuple[bytes, int]:
    """Zeroes the header of the global heap object holding the architecture JSON; returns the bytes and where."""
    for header, _collection, _index, _length, body in global_heap_objects(data):
        if is_architecture(body):
            out = bytearray(data)
            out[header:header + 16] = bytes(16)
            return bytes(out), header
    raise SystemExit("no global heap object holds the architecture JSON")


def damaged_header(data: bytes) -> int | None:
    """The offset of a zeroed 16-byte object header followed by the architecture JSON, or None."""
    at = data.find(b'{"input":')
    while at >= 0:
        if at >= 16 and data[at - 16:at] == bytes(16) and b'"layers"' in data[at:at + 4096]:
            return at - 16
        at = data.find(b'{"input":', at + 1)
    return None


def rezip(keras: bytes, weights: bytes) -> bytes:
    """The .keras archive with model.weights.h5 replaced, members in the same order, stored, with their dates."""
    source = zipfile.ZipFile(io.BytesIO(keras))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            copy.external_attr = info.external_attr
            copy.compress_type = zipfile.ZIP_STORED
            target.writestr(copy, weights if info.filename == "model.weights.h5" else source.read(info.filename))
    return out.getvalue()


def make(cnnkit: str, data_dir: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        arch = folder / "arch.json"
        arch.write_text(json.dumps(ARCHITECTURE))
        model = folder / "m.h5"

        def run(*args):
            subprocess.run([cnnkit, *map(str, args)], check=True, capture_output=True, text=True)

        run("train", "--data", data_dir, "--arch", arch, "--limit", 200, "--epochs", 1, "--threads", 1, "--out", model)
        run("convert", model, folder / "m.weights.h5")
        run("convert", model, folder / "m.keras")
        for suffix in (".h5", ".weights.h5"):
            hung, header = damage((folder / f"m{suffix}").read_bytes())
            (HERE / f"{NAME}{suffix}").write_bytes(hung)
            print(f"{NAME}{suffix}: bytes [{header}, {header + 16}) zeroed")
        keras = (folder / "m.keras").read_bytes()
        inner, header = damage(zipfile.ZipFile(io.BytesIO(keras)).read("model.weights.h5"))
        (HERE / f"{NAME}.keras").write_bytes(rezip(keras, inner))
        print(f"{NAME}.keras: model.weights.h5 bytes [{header}, {header + 16}) zeroed, re-zipped")


def check() -> None:
    """Each committed fixture carries the recipe's damage (a zeroed header before the architecture JSON)."""
    for suffix in (".h5", ".weights.h5", ".keras"):
        data = (HERE / f"{NAME}{suffix}").read_bytes()
        if suffix == ".keras":
            data = zipfile.ZipFile(io.BytesIO(data)).read("model.weights.h5")
        header = damaged_header(data)
        assert header is not None, f"{NAME}{suffix}: no zeroed heap object header before the architecture"
        assert not any(is_architecture(body) for *_, body in global_heap_objects(data)), f"{NAME}{suffix}: architecture object intact"
        print(f"{NAME}{suffix}: header at byte {header} zeroed")


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        check()
    elif len(sys.argv) in (2, 3):
        make(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "/usr/share/datasets/fashion-mnist")
    else:
        raise SystemExit(__doc__)
