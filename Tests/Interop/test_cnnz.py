"""CNNZ interop: an independent Python reader written from Schemas/cnnz.md alone, and the header JSON Schema.

Reads every fixture in Fixtures/cnnz (made by the Swift writer, `FixtureTests.swift`) with numpy, zlib and
zstandard only: checks each CRC, the layout rules of section 3 (contiguous chunks, zero padding, 64-byte alignment
of raw data), decodes every codec and dtype (`matrix/`: every codec with every dtype, values recomputed here), and
validates the header against Schemas/cnnz-header.schema.json. The chunk decoder printed in the spec (section 5.5)
is run too, on every chunk of every fixture.
"""

import json
import struct
import zlib
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import zstandard

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "Fixtures" / "cnnz").glob("*.cnnz")) + sorted((ROOT / "Fixtures" / "cnnz" / "matrix").glob("*.cnnz"))
MATRIX = sorted((ROOT / "Fixtures" / "cnnz" / "matrix").glob("*.cnnz"))
CODECS = ["raw", "deflate", "shuffle-deflate", "shuffle-zstd"]
SCHEMA = json.loads((ROOT / "Schemas" / "cnnz-header.schema.json").read_text())
DTYPES = {"float32": "<f4", "float16": "<f2", "float64": "<f8", "int32": "<i4", "int64": "<i8", "uint8": "u1", "bfloat16": "<u2"}


def decode_chunk(codec, stored, expected, itemsize):
    """One chunk's raw bytes (section 5), with every exactness check of section 6."""
    if codec == "raw":
        assert len(stored) == expected
        return stored
    if codec in ("deflate", "shuffle-deflate"):
        d = zlib.decompressobj()
        piece = d.decompress(stored, expected + 1)
        assert d.eof and not d.unused_data
    elif codec == "shuffle-zstd":
        # Section 5.4: one frame stating its content size, checked before decoding; raw <= 32768 * stored.
        assert 1 <= len(stored) and expected <= 32768 * len(stored)
        assert zstandard.get_frame_parameters(stored).content_size == expected
        d = zstandard.ZstdDecompressor().decompressobj()
        piece = d.decompress(stored)
        assert d.eof and not d.unused_data
    else:
        raise ValueError(f"unknown codec {codec!r}")
    assert len(piece) == expected
    if codec != "deflate":
        piece = np.frombuffer(piece, np.uint8).reshape(itemsize, -1).T.tobytes()
    return piece


def read_cnnz(data: bytes, chunk_hook=None):
    """Returns (header, {name: float32 array}) after checking everything section 6 asks; `chunk_hook(codec, stored,
    raw size, item size, raw bytes)` sees every chunk."""
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
            piece = decode_chunk(t["codec"], stored, expected, itemsize)
            if chunk_hook:
                chunk_hook(t["codec"], stored, expected, itemsize, piece)
            pieces.append(piece)
            position += c["stored"]
        values = np.frombuffer(b"".join(pieces), DTYPES[t["dtype"]])
        if t["dtype"] == "bfloat16":
            values = (values.astype(np.uint32) << 16).view(np.float32)
        tensors[t["name"]] = values.astype(np.float32).reshape(t["shape"])
    assert position == h_off
    # Section 7: minor 1 exactly when some tensor uses shuffle-zstd (the lowest version that holds the file).
    assert data[10] == (1 if any(t["codec"] == "shuffle-zstd" for t in header["tensors"]) else 0)
    return header, tensors


def spec_decoder():
    """The `decode_chunk` printed in Schemas/cnnz.md section 5.5, compiled from the spec's text."""
    spec = (ROOT / "Schemas" / "cnnz.md").read_text()
    section = spec[spec.index("### 5.5"):spec.index("## 6.")]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    namespace = {}
    exec(compile(code, "Schemas/cnnz.md section 5.5", "exec"), namespace)
    return namespace["decode_chunk"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_reads_and_validates(path):
    header, tensors = read_cnnz(path.read_bytes())
    jsonschema.validate(header, SCHEMA)
    assert list(tensors) == [t["name"] for t in header["tensors"]]


def test_minimal_values():
    _, tensors = read_cnnz((ROOT / "Fixtures" / "cnnz" / "minimal.cnnz").read_bytes())
    assert tensors["dense.kernel"].tolist() == [[1.5], [-0.25]]


def test_codecs_and_dtypes_agree():
    """The same document stored raw/float32, shuffle-deflate and shuffle-zstd/float32 and as float16/bfloat16 decodes
    alike."""
    base = read_cnnz((ROOT / "Fixtures" / "cnnz" / "tiny-raw.cnnz").read_bytes())[1]
    for fixture in ("tiny.cnnz", "tiny-zstd.cnnz"):
        same = read_cnnz((ROOT / "Fixtures" / "cnnz" / fixture).read_bytes())[1]
        for name in base:
            assert np.array_equal(base[name].view(np.uint32), same[name].view(np.uint32))
    for fixture, rtol in (("tiny-deflate-float16.cnnz", 2.0**-11), ("tiny-bfloat16-chunks16.cnnz", 2.0**-8),
                          ("tiny-zstd-bfloat16-chunks16.cnnz", 2.0**-8)):
        header, lossy = read_cnnz((ROOT / "Fixtures" / "cnnz" / fixture).read_bytes())
        for t in header["tensors"]:
            if t.get("lossy"):
                np.testing.assert_allclose(lossy[t["name"]], base[t["name"]], rtol=rtol, atol=2.0**-25)
            else:
                assert np.array_equal(lossy[t["name"]], base[t["name"]])


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_spec_decoder_agrees_on_every_chunk(path):
    """The decoder printed in the spec gives the same raw bytes as this reader for every chunk."""
    decode = spec_decoder()
    seen = []

    def check(codec, stored, expected, itemsize, piece):
        assert decode(codec, stored, expected, itemsize) == piece
        seen.append(codec)

    header, _ = read_cnnz(path.read_bytes(), check)
    assert len(seen) == sum(len(t["chunks"]) for t in header["tensors"])


def test_matrix_covers_every_codec_and_dtype():
    assert sorted(p.stem for p in MATRIX) == sorted(f"{c}-{d}" for c in CODECS for d in DTYPES)


@pytest.mark.parametrize("path", MATRIX, ids=lambda p: p.stem)
def test_every_codec_and_dtype_from_our_writer(path):
    """Each matrix file holds tensor t [5, 37] of FixtureTests.matrixValue, stored with the codec and dtype of its
    name in several 64-byte chunks: the values come back exactly (they are exact in every dtype)."""
    codec, dtype = next((c, path.stem[len(c) + 1:]) for c in sorted(CODECS, key=len, reverse=True) if path.stem.startswith(c + "-"))
    header, tensors = read_cnnz(path.read_bytes())
    (entry,) = header["tensors"]
    assert (entry["codec"], entry["dtype"], entry["shape"], header["chunk_size"]) == (codec, dtype, [5, 37], 64)
    assert len(entry["chunks"]) > 1
    i = np.arange(185)
    integer = dtype in ("int32", "int64", "uint8")
    expected = ((i * 37) % 200).astype(np.float32) if integer else (((i * 37) % 121 - 60) / 4).astype(np.float32)
    assert np.array_equal(tensors["t"].ravel(), expected)


def test_unknown_codec_is_an_error_naming_it():
    data = bytearray((ROOT / "Fixtures" / "cnnz" / "tiny-zstd.cnnz").read_bytes())
    h_off, h_len = struct.unpack("<QQ", data[-32:-16])
    header = json.loads(data[h_off:h_off + h_len])
    with pytest.raises(ValueError, match="shuffle-brotli"):
        decode_chunk("shuffle-brotli", b"x", 4, 4)
    with pytest.raises(ValueError, match="shuffle-brotli"):
        spec_decoder()("shuffle-brotli", b"x", 4, 4)
    assert {t["codec"] for t in header["tensors"]} == {"shuffle-zstd"}
