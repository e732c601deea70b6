"""CNNZ interop: an independent Python reader written from Schemas/cnnz.md alone, and the header JSON Schema.

Reads every fixture in Fixtures/cnnz (made by the Swift writer, `FixtureTests.swift`) with numpy and zlib only:
checks each CRC, the layout rules of section 3 (contiguous chunks, zero padding, 64-byte alignment of raw data),
decodes every codec and dtype, and validates the header against Schemas/cnnz-header.schema.json.
"""

import json
import struct
import zlib
from pathlib import Path

import jsonschema
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "Fixtures" / "cnnz").glob("*.cnnz"))
SCHEMA = json.loads((ROOT / "Schemas" / "cnnz-header.schema.json").read_text())
DTYPES = {"float32": "<f4", "float16": "<f2", "float64": "<f8", "int32": "<i4", "int64": "<i8", "uint8": "u1", "bfloat16": "<u2"}


def read_cnnz(data: bytes):
    """Returns (header, {name: float32 array}) after checking everything section 6 asks."""
    assert data[:9] == b"\x89CNNZ\r\n\x1a\n"
    assert struct.unpack("<I", data[12:16])[0] == zlib.crc32(data[:12])
    assert data[9] == 1
    h_off, h_len, h_crc, end, _reserved, f_crc = struct.unpack("<QQI4sII", data[-32:])
    assert end == b"CNNZ" and f_crc == zlib.crc32(data[-32:-4])
    assert 16 <= h_off and h_off + h_len == len(data) - 32
    raw_header = data[h_off:h_off + h_len]
    assert zlib.crc32(raw_header) == h_crc
    header = json.loads(raw_header)
    chunk_size = header["chunk_size"]
    position = 16
    tensors = {}
    for t in header["tensors"]:
        itemsize = np.dtype(DTYPES[t["dtype"]]).itemsize
        raw_bytes = int(np.prod(t["shape"], dtype=np.int64)) * itemsize
        assert len(t["chunks"]) == -(-raw_bytes // chunk_size)
        if t["codec"] == "raw" and t["chunks"]:
            pad = (64 - position % 64) % 64
            assert data[position:position + pad] == bytes(pad)
            position += pad
        pieces = []
        for k, c in enumerate(t["chunks"]):
            assert c["offset"] == position
            stored = data[position:position + c["stored"]]
            assert zlib.crc32(stored) == c["crc32"]
            expected = min(chunk_size, raw_bytes - k * chunk_size)
            if t["codec"] == "raw":
                piece = stored
            else:
                d = zlib.decompressobj()
                piece = d.decompress(stored)
                assert d.eof and not d.unused_data
                if t["codec"] == "shuffle-deflate":
                    piece = np.frombuffer(piece, np.uint8).reshape(itemsize, -1).T.tobytes()
            assert len(piece) == expected
            pieces.append(piece)
            position += c["stored"]
        values = np.frombuffer(b"".join(pieces), DTYPES[t["dtype"]])
        if t["dtype"] == "bfloat16":
            values = (values.astype(np.uint32) << 16).view(np.float32)
        tensors[t["name"]] = values.astype(np.float32).reshape(t["shape"])
    assert position == h_off
    return header, tensors


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_reads_and_validates(path):
    header, tensors = read_cnnz(path.read_bytes())
    jsonschema.validate(header, SCHEMA)
    assert list(tensors) == [t["name"] for t in header["tensors"]]


def test_minimal_values():
    _, tensors = read_cnnz((ROOT / "Fixtures" / "cnnz" / "minimal.cnnz").read_bytes())
    assert tensors["dense.kernel"].tolist() == [[1.5], [-0.25]]


def test_codecs_and_dtypes_agree():
    """The same document stored raw/float32, shuffle-deflate/float32 and as float16/bfloat16 decodes alike."""
    base = read_cnnz((ROOT / "Fixtures" / "cnnz" / "tiny-raw.cnnz").read_bytes())[1]
    same = read_cnnz((ROOT / "Fixtures" / "cnnz" / "tiny.cnnz").read_bytes())[1]
    for name in base:
        assert np.array_equal(base[name].view(np.uint32), same[name].view(np.uint32))
    for fixture, rtol in (("tiny-deflate-float16.cnnz", 2.0**-11), ("tiny-bfloat16-chunks16.cnnz", 2.0**-8)):
        header, lossy = read_cnnz((ROOT / "Fixtures" / "cnnz" / fixture).read_bytes())
        for t in header["tensors"]:
            if t.get("lossy"):
                np.testing.assert_allclose(lossy[t["name"]], base[t["name"]], rtol=rtol, atol=2.0**-25)
            else:
                assert np.array_equal(lossy[t["name"]], base[t["name"]])
