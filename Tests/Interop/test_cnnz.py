"""CNNZ interop: an independent Python reader written from Schemas/cnnz.md alone, and the header JSON Schema.

Reads every fixture in Fixtures/cnnz (made by the Swift writer, `FixtureTests.swift`) with numpy, zlib and
zstandard only: checks each CRC, the layout rules of section 3 (contiguous chunks, zero padding, 64-byte alignment
of raw data), decodes every codec and dtype (`matrix/`: every codec with every dtype, values recomputed here), and
validates the header against Schemas/cnnz-header.schema.json. The chunk decoder printed in the spec (section 5.5)
is run too, on every chunk of every fixture, and so is the complete reader of the spec's Appendix A: on every
fixture, and on a crafted file for each decision of the spec's Appendix B (`CRAFTED`), where it must accept or
refuse exactly as `cnnkit inspect` does (exit 0 or 65, with the message the spec promises).
"""

import json
import struct
import subprocess
import zlib
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import zstandard

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = sorted((ROOT / "Fixtures" / "cnnz" / "chunks").glob("*.cnnz"))
FIXTURES = sorted((ROOT / "Fixtures" / "cnnz").glob("*.cnnz")) + sorted((ROOT / "Fixtures" / "cnnz" / "matrix").glob("*.cnnz")) + CHUNKS
MATRIX = sorted((ROOT / "Fixtures" / "cnnz" / "matrix").glob("*.cnnz"))
CODECS = ["raw", "deflate", "shuffle-deflate", "shuffle-zstd"]
SCHEMA = json.loads((ROOT / "Schemas" / "cnnz-header.schema.json").read_text())
ARCHITECTURE_SCHEMA = json.loads((ROOT / "Schemas" / "architecture.schema.json").read_text())
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
    jsonschema.validate(header["architecture"], ARCHITECTURE_SCHEMA)
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
    """Each matrix file holds tensor dense.kernel [5, 37] (of flatten -> dense(37, no bias) on a 1x1x5 input) of
    FixtureTests.matrixValue, stored with the codec and dtype of its name in several 64-byte chunks: the values come
    back exactly (they are exact in every dtype), through this file's reader and through the spec's (Appendix A)."""
    codec, dtype = next((c, path.stem[len(c) + 1:]) for c in sorted(CODECS, key=len, reverse=True) if path.stem.startswith(c + "-"))
    header, tensors = read_cnnz(path.read_bytes())
    (entry,) = header["tensors"]
    assert (entry["codec"], entry["dtype"], entry["shape"], header["chunk_size"]) == (codec, dtype, [5, 37], 64)
    assert len(entry["chunks"]) > 1
    i = np.arange(185)
    integer = dtype in ("int32", "int64", "uint8")
    expected = ((i * 37) % 200).astype(np.float32) if integer else (((i * 37) % 121 - 60) / 4).astype(np.float32)
    assert np.array_equal(tensors["dense.kernel"].ravel(), expected)
    _, raw = spec_reader()(path.read_bytes())
    values = np.frombuffer(raw["dense.kernel"], DTYPES[dtype])
    if dtype == "bfloat16":
        values = (values.astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(values.astype(np.float32), expected)


@pytest.mark.parametrize("path", CHUNKS, ids=lambda p: p.stem)
def test_tensors_of_several_1mib_chunks(path):
    """chunks/CODEC-DTYPE.cnnz: dense.kernel [784, 200] of FixtureTests.matrixValue in the default 1 MiB chunks,
    the last one partly filled; the values come back exactly through both readers."""
    codec, dtype = next((c, path.stem[len(c) + 1:]) for c in sorted(CODECS, key=len, reverse=True) if path.stem.startswith(c + "-"))
    header, tensors = read_cnnz(path.read_bytes())
    (entry,) = header["tensors"]
    assert (entry["codec"], entry["dtype"], entry["shape"], header["chunk_size"]) == (codec, dtype, [784, 200], 1 << 20)
    raw = 156800 * np.dtype(DTYPES[dtype]).itemsize
    assert len(entry["chunks"]) == 2 and raw % (1 << 20) != 0
    i = np.arange(156800)
    integer = dtype in ("int32", "int64", "uint8")
    expected = ((i * 37) % 200).astype(np.float32) if integer else (((i * 37) % 121 - 60) / 4).astype(np.float32)
    assert np.array_equal(tensors["dense.kernel"].ravel(), expected)
    _, spec = spec_reader()(path.read_bytes())
    assert np.array_equal(np.frombuffer(spec["dense.kernel"], DTYPES[dtype]).astype(np.float32), expected)


def test_unknown_codec_is_an_error_naming_it():
    data = bytearray((ROOT / "Fixtures" / "cnnz" / "tiny-zstd.cnnz").read_bytes())
    h_off, h_len = struct.unpack("<QQ", data[-32:-16])
    header = json.loads(data[h_off:h_off + h_len])
    with pytest.raises(ValueError, match="shuffle-brotli"):
        decode_chunk("shuffle-brotli", b"x", 4, 4)
    with pytest.raises(ValueError, match="shuffle-brotli"):
        spec_decoder()("shuffle-brotli", b"x", 4, 4)
    assert {t["codec"] for t in header["tensors"]} == {"shuffle-zstd"}


# ---- The spec's complete reader (Appendix A), and the decisions of Appendix B on crafted files ----

def spec_code(start, end):
    spec = (ROOT / "Schemas" / "cnnz.md").read_text()
    section = spec[spec.index(start):spec.index(end) if end else len(spec)]
    begin = section.index("```python") + len("```python")
    return section[begin:section.index("```", begin)]


def spec_reader():
    """`read_cnnz` of Schemas/cnnz.md Appendix A, with `decode_chunk` of section 5.5, compiled from the spec's text."""
    namespace = {}
    exec(compile(spec_code("### 5.5", "## 6."), "Schemas/cnnz.md section 5.5", "exec"), namespace)
    exec(compile(spec_code("## Appendix A", "## Appendix B"), "Schemas/cnnz.md Appendix A", "exec"), namespace)
    return namespace["read_cnnz"]


@pytest.mark.parametrize("path", FIXTURES + sorted((ROOT / "Fixtures" / "cnnz" / "corpus").glob("*.cnnz")), ids=lambda p: p.parent.name + "/" + p.name)
def test_spec_reader_agrees_on_every_fixture(path):
    """The spec's reader accepts every fixture and gives this file's reader's bytes; it refuses the broken seeds."""
    data = path.read_bytes()
    if path.name.startswith("broken-"):
        with pytest.raises(ValueError):
            spec_reader()(data)
        return
    header, raw = spec_reader()(data)
    _, tensors = read_cnnz(data)
    for t in header["tensors"]:
        values = np.frombuffer(raw[t["name"]], DTYPES[t["dtype"]])
        if t["dtype"] == "bfloat16":
            values = (values.astype(np.uint32) << 16).view(np.float32)
        assert np.array_equal(values.astype(np.float32).view(np.uint32), tensors[t["name"]].ravel().view(np.uint32))


BASE = ROOT / "Fixtures" / "cnnz" / "tiny-raw.cnnz"


def reseal(body, header):
    """`body` (preamble and data) + `header` bytes + a footer for them."""
    footer = struct.pack("<QQI4sI", len(body), len(header), zlib.crc32(header), b"CNNZ", 0)
    return bytes(body) + header + footer + struct.pack("<I", zlib.crc32(footer))


def split(data):
    h_off, h_len = struct.unpack("<QQ", data[-32:-16])
    return data[:h_off], data[h_off:h_off + h_len]


def text(old, new):
    """The base file with its header text edited (`old` must occur)."""
    def make():
        body, header = split(BASE.read_bytes())
        old_b, new_b = old.encode() if isinstance(old, str) else old, new.encode() if isinstance(new, str) else new
        assert old_b in header, old
        return reseal(body, header.replace(old_b, new_b, 1))
    return make


def whole(change):
    """The base file with its header bytes replaced by `change(header)`."""
    def make():
        body, header = split(BASE.read_bytes())
        return reseal(body, change(header))
    return make


def model(change):
    """The base model rewritten by a small raw writer after `change(header, arrays)` edits its header (parsed) and
    tensors (name -> raw bytes): a self-consistent file whose only fault is the one the change makes."""
    def make():
        header, arrays = spec_reader()(BASE.read_bytes())
        header = json.loads(json.dumps(header))
        change(header, arrays)
        body = bytearray(b"\x89CNNZ\r\n\x1a\n\x01\x00\x00")
        body += struct.pack("<I", zlib.crc32(body))
        size = header["chunk_size"]
        for t in header["tensors"]:
            raw, t["codec"], t["chunks"] = arrays[t["name"]], "raw", []
            body += bytes(-len(body) % 64 if raw else 0)
            for k in range(0, len(raw), size):
                piece = raw[k:k + size]
                t["chunks"].append({"crc32": zlib.crc32(piece), "offset": len(body), "stored": len(piece)})
                body += piece
        return reseal(body, json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    return make


def tensor(header, name):
    return next(t for t in header["tensors"] if t["name"] == name)


def rename(header, arrays, old, new):
    tensor(header, old)["name"] = new
    arrays[new] = arrays.pop(old)


def drop(header, arrays, name):
    header["tensors"] = [t for t in header["tensors"] if t["name"] != name]
    del arrays[name]


def add_tensor(header, arrays, name, role, shape):
    header["tensors"].append({"name": name, "role": role, "dtype": "float32", "shape": shape})
    arrays[name] = bytes(4 * int(np.prod(shape)))


def nested(depth):
    return text('{"architecture"', '{"deep":' + "[" * depth + "]" * depth + ',"architecture"')


# (id, builder, accepted, what `cnnkit inspect` must say when it refuses): one file per decision of Appendix B.
CRAFTED = [
    # Text: byte order mark, UTF-8, escapes, nesting, literals, trailing bytes, whitespace.
    ("bom", whole(lambda h: b"\xef\xbb\xbf" + h), False, "byte order mark"),
    ("not-utf8", text('"made_by":"CNNZFormatTests"', b'"made_by":"\xff"'), False, "not valid UTF-8"),
    ("overlong-utf8", text('"made_by":"CNNZFormatTests"', b'"made_by":"\xc0\xaf"'), False, "not valid UTF-8"),
    ("lone-surrogate", text('"made_by":"CNNZFormatTests"', '"made_by":"\\ud800"'), False, "lone UTF-16 surrogate"),
    ("surrogate-pair", text('"made_by":"CNNZFormatTests"', '"made_by":"\\ud83d\\ude00 \\u00fc"'), True, None),
    ("control-char", text('"made_by":"CNNZFormatTests"', '"made_by":"a\tb"'), False, "control character"),
    ("nan-literal", text('"epoch_loss_sum":0', '"epoch_loss_sum":NaN'), False, "expected a JSON value"),
    ("trailing-bytes", whole(lambda h: h + b" x"), False, "after the JSON value"),
    ("whitespace", whole(lambda h: b" \n" + h.replace(b'":', b'" :\r\n\t ') + b"\n"), True, None),
    ("top-level-array", whole(lambda h: b"[" + h + b"]"), False, "must be an object"),
    ("nesting-64", nested(63), True, None),
    ("nesting-65", nested(64), False, "nested deeper than 64"),
    # Duplicate keys.
    ("duplicate-top-level-key", text('{"architecture"', '{"chunk_size":1048576,"architecture"'), False, 'duplicate key "chunk_size"'),
    ("duplicate-metadata-key", text('"made_by":"CNNZFormatTests"', '"made_by":"x","made_by":"CNNZFormatTests"'), False, 'duplicate key "made_by"'),
    ("duplicate-layer-key", text('"units":3', '"units":3,"units":3'), False, 'duplicate key "units"'),
    ("duplicate-chunk-key", text('"offset":64,', '"offset":64,"offset":64,'), False, 'duplicate key "offset"'),
    # Integers: tokens, signs, sizes.
    ("chunk-size-fraction", text('"chunk_size":1048576', '"chunk_size":1048576.0'), False, "digits only (no fraction or exponent), found 1048576.0"),
    ("chunk-size-exponent", text('"chunk_size":1048576', '"chunk_size":1.048576e6'), False, "digits only"),
    ("epoch-minus-zero", text('"epoch":1,', '"epoch":-0,'), False, "no sign allowed"),
    ("epoch-minus-zero-fraction", text('"epoch":1,', '"epoch":-0.0,'), False, "found -0.0"),
    ("shape-fraction", text('"name":"dense.bias","role":"parameter","shape":[3]', '"name":"dense.bias","role":"parameter","shape":[3.0]'), False, "tensors[3].shape[0]"),
    ("architecture-integer-fraction", text('"units":3', '"units":3.0'), False, "architecture.layers[3].units"),
    ("offset-above-2^64", text('"offset":64,', '"offset":18446744073709551616,'), False, "does not fit in 64 bits"),
    ("offset-2^64-1", text('"offset":64,', '"offset":18446744073709551615,'), False, "unaccounted bytes"),
    ("stored-2^64-1", text('"stored":32}', '"stored":18446744073709551615}'), False, "a raw chunk stores 18446744073709551615 bytes, expected 32"),
    ("crc32-above-2^32", text('"crc32":3701415128', '"crc32":4294967296'), False, "from 0 to 4294967295"),
    ("seed-2^64-1", text('"seed":7', '"seed":18446744073709551615'), True, None),
    ("seed-2^64", text('"seed":7', '"seed":18446744073709551616'), False, "does not fit in 64 bits"),
    ("step-2^63", text('"step":10', '"step":9223372036854775808'), False, "from 0 to 9223372036854775807"),
    ("extent-2^63", text('"name":"dense.bias","role":"parameter","shape":[3]', '"name":"dense.bias","role":"parameter","shape":[9223372036854775808]'), False, "tensors[3].shape[0]"),
    # Numbers.
    ("loss-overflow", text('"loss":0.5', '"loss":1e400'), False, "out of the range of a 64-bit float"),
    ("loss-nan-string", text('"loss":0.5', '"loss":"NaN"'), True, None),
    ("accuracy-above-1", text('"trainAccuracy":0.75', '"trainAccuracy":1.5'), False, "from 0 to 1"),
    ("preprocessing-beyond-float32", text('"scale":0.003921569', '"scale":1e39'), False, "out of the range of float32"),
    # Open and closed objects.
    ("unknown-top-level-key", text('{"architecture"', '{"a_future_key":{"x":[1,2.5,-0.0,1e400,null]},"architecture"'), True, None),
    ("unknown-tensor-key", text('{"chunks":[{"crc32":3701415128', '{"future":true,"chunks":[{"crc32":3701415128'), True, None),
    ("unknown-chunk-key", text('{"crc32":3701415128,', '{"crc32":3701415128,"zz":null,'), True, None),
    ("unknown-training-state-key", text('"training_state":{', '"training_state":{"aaa":"x",'), True, None),
    ("unknown-history-key", text('"loss":0.5', '"loss":0.5,"lr":0.1'), True, None),
    ("unknown-probes-key", text('"probes":{', '"probes":{"note":"n",'), True, None),
    ("unknown-architecture-key", text('"version":1', '"version":1,"dtype":"float32"'), False, "unknown key 'dtype'"),
    ("unknown-layer-key", text('"units":3', '"units":3,"dilation":[2,2]'), False, "unknown key 'dilation'"),
    ("unknown-input-key", text('"channels":1,', '"channels":1,"depth":1,'), False, "unknown key 'depth'"),
    ("unknown-optimizer-key", text('"nesterov":false', '"nesterov":false,"weight_decay":0.01'), False, 'unknown key "weight_decay"'),
    # training_state ranges.
    ("epoch-negative", text('"epoch":1,', '"epoch":-1,'), False, "training_state.epoch"),
    ("batch-size-zero", text('"batch_size":2', '"batch_size":0'), False, "from 1 to"),
    ("rng-uppercase", text('"rng_state":["1"', '"rng_state":["A"'), False, "lowercase hex"),
    ("rng-plus-sign", text('"rng_state":["1"', '"rng_state":["+1"'), False, "lowercase hex"),
    ("rng-17-digits", text('"rng_state":["1"', '"rng_state":["10000000000000000"'), False, "lowercase hex"),
    ("rng-16-digits", text('"rng_state":["1"', '"rng_state":["ffffffffffffffff"'), True, None),
    ("rng-three-words", text('"rng_state":["1","2","3","4"]', '"rng_state":["1","2","3"]'), False, "exactly 4 items"),
    ("rng-all-zero", text('"rng_state":["1","2","3","4"]', '"rng_state":["0","0","0","0"]'), False, "must not all be zero"),
    ("learning-rate-zero", text('"learningRate":0.005', '"learningRate":0'), False, "above 0"),
    ("learning-rate-zero-in-float32", text('"learningRate":0.005', '"learningRate":1e-50'), False, "too small for float32"),
    ("learning-rate-float32-max", text('"learningRate":0.005', '"learningRate":3.4028235e38'), True, None),
    ("learning-rate-above-float32", text('"learningRate":0.005', '"learningRate":3.402823567797337e38'), False, "out of the range of float32"),
    ("loss-underflow", text('"loss":0.5', '"loss":1e-400'), False, "too small for a 64-bit float"),
    ("loss-subnormal", text('"loss":0.5', '"loss":5e-324'), True, None),
    ("preprocessing-infinity-string", text('"offset":-0.5', '"offset":"-Infinity"'), False, "preprocessing.offset: must be a number"),
    ("preprocessing-underflow", text('"scale":0.003921569', '"scale":1e-50'), False, "too small for float32"),
    ("momentum-one", text('"momentum":0.9', '"momentum":1'), False, "below 1"),
    ("beta2-one-in-float32", text('"beta2":0.999', '"beta2":0.99999999999'), False, "below 1 as float32"),
    ("optimizer-kind", text('"kind":"sgd"', '"kind":"rmsprop"'), False, '"rmsprop"'),
    ("nesterov-without-momentum", model(lambda h, a: h["training_state"]["optimizer"].update(momentum=0, nesterov=True)), False, "nesterov"),
    # Section 4.2: tensors against the architecture, slots, probes, roles.
    ("rebuilt-unchanged", model(lambda h, a: None), True, None),
    ("unnamed-layers", model(lambda h, a: [layer.pop("name") for layer in h["architecture"]["layers"]]), True, None),
    ("scalar-dense-bias", model(lambda h, a: (tensor(h, "dense.bias").update(shape=[]), a.update({"dense.bias": bytes(4)}))), False, "tensor dense.bias: invalid tensor entry: does not fit the architecture: expected shape [3], found []"),
    ("renamed-parameter", model(lambda h, a: rename(h, a, "dense.kernel", "dense.weights")), False, "tensor dense.kernel: invalid tensor entry: does not fit the architecture: missing (expected shape [2, 3])"),
    ("extra-parameter", model(lambda h, a: add_tensor(h, a, "dense.extra", "parameter", [3])), False, "tensor dense.extra"),
    ("missing-slot", model(lambda h, a: drop(h, a, "optimizer.dense.bias.momentum")), False, "optimizer.dense.bias.momentum: invalid tensor entry: does not fit the architecture: missing"),
    ("adam-without-velocity", model(lambda h, a: h["training_state"]["optimizer"].update(kind="adam")), False, "optimizer.conv2d.kernel.velocity"),
    ("sgd-without-momentum-with-slots", model(lambda h, a: h["training_state"]["optimizer"].update(momentum=0)), False, "neither a parameter"),
    ("slot-with-parameter-role", model(lambda h, a: tensor(h, "optimizer.dense.bias.momentum").update(role="parameter")), False, "role parameter, expected optimizer_slot"),
    ("probe-outputs-shape", model(lambda h, a: (tensor(h, "probes.outputs").update(shape=[1, 4]), a.update({"probes.outputs": bytes(16)}))), False, "probes.outputs"),
    ("architecture-does-not-fit", model(lambda h, a: h["architecture"]["layers"].append({"type": "relu"})), False, "softmax must be the last layer"),
    # Section 4.4 and the lossy flag.
    ("lossy-on-float32", model(lambda h, a: tensor(h, "dense.bias").update(lossy=True)), False, '"lossy": true on a float32 tensor'),
    ("stored-cnnz-lossy-ignored", text('"made_by"', '"cnnz.lossy":"dense.kernel:float16","made_by"'), True, None),
]


# Refusals the JSON Schemas express too (the others are about the text, the tensors, or float32 rounding).
SCHEMA_REFUSES = {"crc32-above-2^32", "seed-2^64", "step-2^63", "extent-2^63", "accuracy-above-1", "unknown-architecture-key",
                  "unknown-layer-key", "unknown-input-key", "unknown-optimizer-key", "epoch-negative", "batch-size-zero",
                  "rng-uppercase", "rng-plus-sign", "rng-17-digits", "rng-three-words", "learning-rate-zero", "momentum-one",
                  "optimizer-kind", "top-level-array", "preprocessing-infinity-string"}


@pytest.mark.parametrize("case", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_crafted_file_spec_reader_and_inspect_agree(case, cnnkit_bin, tmp_path):
    """Appendix B: each decision on a file made for it. The spec's reader and `cnnkit inspect` both accept it, or both
    refuse it (exit 65, one line naming the file and what the spec says is wrong)."""
    name, make, accepted, message = case
    data = make()
    path = tmp_path / f"{name}.cnnz"
    path.write_bytes(data)
    try:
        spec_reader()(data)
        spec_accepts = True
    except ValueError:
        spec_accepts = False
    result = subprocess.run([str(cnnkit_bin), "inspect", "--json", str(path)], capture_output=True, text=True, timeout=120)
    assert spec_accepts == accepted, f"{name}: the spec's reader {'accepts' if spec_accepts else 'refuses'} it"
    if accepted:
        assert result.returncode == 0, result.stderr
        header = json.loads(split(data)[1])
        jsonschema.validate(header, SCHEMA)                          # what the reader accepts, the schemas accept
        jsonschema.validate(header["architecture"], ARCHITECTURE_SCHEMA)
        report = json.loads(result.stdout)
        assert "cnnz.lossy" not in report.get("metadata", {})       # a stored one is ignored (section 4.4)
    else:
        if name in SCHEMA_REFUSES:
            header = json.loads(split(data)[1])
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(header, SCHEMA)
                jsonschema.validate(header["architecture"], ARCHITECTURE_SCHEMA)
        assert result.returncode == 65, f"{name}: exit {result.returncode}\n{result.stderr}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"cnnkit: {path}: at byte "), result.stderr
        assert message in lines[0], f"{name}: {lines[0]!r} does not say {message!r}"


def header_of(path):
    data = Path(path).read_bytes()
    return json.loads(split(data)[1])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_convert_recomputes_cnnz_lossy(dtype, cnnkit, cnnkit_json, tmp_path):
    """Section 4.4: converting a float16 file stores no cnnz.lossy of its own; each tensor's lossy flag and the
    cnnz.lossy the reader derives describe what the new file stores (none for float32: a lossless file)."""
    source = ROOT / "Fixtures" / "cnnz" / "tiny-deflate-float16.cnnz"
    assert cnnkit_json("inspect", source)["metadata"]["cnnz.lossy"].startswith("conv2d.kernel:float16,")
    out = tmp_path / f"out-{dtype}.cnnz"
    cnnkit("convert", source, out, "--dtype", dtype)
    header = header_of(out)
    assert not any(k.startswith("cnnz.") for k in header["metadata"])
    lossy = [f"{t['name']}:{t['dtype']}" for t in header["tensors"] if t.get("lossy")]
    if dtype == "float32":
        assert lossy == [] and all(t["dtype"] in ("float32", "uint8") for t in header["tensors"])
        assert "cnnz.lossy" not in cnnkit_json("inspect", out)["metadata"]
    else:
        assert lossy and all(x.endswith(":bfloat16") for x in lossy)
        assert cnnkit_json("inspect", out)["metadata"]["cnnz.lossy"] == ",".join(lossy)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".h5", ".pt"])
def test_cnnz_keys_stay_in_cnnz(suffix, cnnkit, cnnkit_json, tmp_path):
    """cnnz.lossy describes a CNNZ file's own tensors (section 4.4): converting a float16 CNNZ file to another
    format does not carry it into that format's metadata (its lossy_dtype record, which the tolerance comes
    from, stays)."""
    source = ROOT / "Fixtures" / "cnnz" / "tiny-deflate-float16.cnnz"
    assert "cnnz.lossy" in cnnkit_json("inspect", source)["metadata"]
    out = tmp_path / f"out{suffix}"
    cnnkit("convert", source, out)
    metadata = cnnkit_json("inspect", out)["metadata"]
    assert not any(k.startswith("cnnz.") for k in metadata), metadata


def test_convert_writes_float64_and_deflate(cnnkit, cnnkit_json, tmp_path):
    """The CLI writes float64 (exact) to CNNZ, with either compressor; the values are the input's bit for bit and
    nothing is marked lossy. Other formats refuse float64 (exit 64)."""
    source = ROOT / "Fixtures" / "cnnz" / "tiny-raw.cnnz"
    _, base = read_cnnz(source.read_bytes())
    for compression, codec in (("deflate", "shuffle-deflate"), ("zstd", "shuffle-zstd"), ("none", "raw")):
        out = tmp_path / f"f64-{compression}.cnnz"
        cnnkit("convert", source, out, "--dtype", "float64", "--compression", compression)
        header, tensors = read_cnnz(out.read_bytes())
        stored = {t["name"]: (t["dtype"], t["codec"], t.get("lossy", False)) for t in header["tensors"]}
        for name, (dtype, c, lossy) in stored.items():
            role = next(t["role"] for t in header["tensors"] if t["name"] == name)
            if role in ("parameter", "optimizer_slot"):
                assert (dtype, c, lossy) == ("float64", codec, False), name
            assert np.array_equal(tensors[name].view(np.uint32), base[name].view(np.uint32)), name
        assert not any(k.startswith("cnnkit.tolerance") or k == "cnnkit.lossy_dtype" for k in header["metadata"])
        assert "cnnz.lossy" not in cnnkit_json("inspect", out)["metadata"]
        spec_reader()(out.read_bytes())
    result = cnnkit("convert", source, tmp_path / "x.safetensors", "--dtype", "float64", expect=64)
    assert "float64" in result.stderr


MUTATION_VALUES = [0, 1, -1, 2, 3, 0.5, 1.0, -0.0, 1e-50, 1e39, 2**63, 2**64 - 1, 2**64, "NaN", "Infinity", "A", "1", "ff", "",
                   None, True, False, [], {}, [1, 2], {"x": 1}, "sgd", "adam", "same", "float16", "dense", 0.99999999999, 7, 16]


def mutated_headers(seed, count):
    """`count` files from the fixtures, each with one or two random edits of its parsed header (a value replaced
    by another of another type or range, a key removed or added), resealed."""
    import random
    rng = random.Random(seed)
    bases = [ROOT / "Fixtures" / "cnnz" / n for n in ("tiny-raw.cnnz", "tiny.cnnz", "minimal.cnnz", "corpus/seed-adam-float16.cnnz")]

    def paths(o, p=()):
        yield p
        children = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
        for k, v in children:
            yield from paths(v, p + (k,))

    for _ in range(count):
        body, header = split(rng.choice(bases).read_bytes())
        h = json.loads(header)
        for _ in range(rng.randint(1, 2)):
            # Not the chunk table: its offsets are checked exactly, so nearly every edit there is a plain refusal.
            p = rng.choice([p for p in paths(h) if p and not (len(p) >= 3 and p[0] == "tensors" and p[2] == "chunks")])
            parent = h
            for k in p[:-1]:
                parent = parent[k]
            r = rng.random()
            if r < 0.6:
                parent[p[-1]] = rng.choice(MUTATION_VALUES)
            elif isinstance(parent, dict) and r < 0.8:
                del parent[p[-1]]
            elif isinstance(parent, dict):
                parent[rng.choice(["future", "name", "bias", "units", "lossy", "version", "kind"])] = rng.choice(MUTATION_VALUES)
        yield reseal(body, json.dumps(h, sort_keys=True, separators=(",", ":")).encode())


@pytest.mark.parametrize("seed", [1, 2])
def test_spec_reader_and_inspect_agree_on_random_headers(seed, cnnkit_bin, tmp_path):
    """Beyond the crafted files: on 100 random header edits per seed, the spec's reader accepts exactly the files
    `cnnkit inspect` accepts (and both take some: the edits are not all fatal)."""
    accepted = 0
    for k, data in enumerate(mutated_headers(seed, 100)):
        path = tmp_path / f"m{k}.cnnz"
        path.write_bytes(data)
        try:
            spec_reader()(data)
            spec_accepts = True
        except ValueError:
            spec_accepts = False
        result = subprocess.run([str(cnnkit_bin), "inspect", str(path)], capture_output=True, text=True, timeout=120)
        assert result.returncode in (0, 65), result.stderr
        assert spec_accepts == (result.returncode == 0), f"edit {k}: spec {spec_accepts}, inspect: {result.stderr.strip()}"
        accepted += spec_accepts
    assert 5 <= accepted <= 95
