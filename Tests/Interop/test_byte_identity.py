"""Byte identity of every file CNNKit writes, against the hashes recorded from the binary before a refactor.

`Fixtures/golden/make_golden.py` runs cnnkit (`CNNKIT_BIN`) on the committed models in `Fixtures/golden/inputs`:
`convert` to every format with every compression, level, dtype and option, from every input format, `train --out`
(threads 1 and 2, `--epochs 0`, `--resume`), and `inspect`, `verify`, `diff --json`. Each output must have the
SHA-256 recorded in `Fixtures/golden/hashes.json`, byte for byte: no output needs a normalised form (the file's
`comparison` says how that was checked). An output whose format changed on purpose is re-recorded and named, with
its reason, in the file's `deliberate_changes`; this test lists those as a warning. See Fixtures/golden/README.md.
"""

import hashlib
import json
import subprocess
import sys
import warnings

import pytest

from conftest import PACKAGE_ROOT

GOLDEN = PACKAGE_ROOT / "Fixtures" / "golden"
RECORDED = json.loads((GOLDEN / "hashes.json").read_text())
RERECORD = "re-record only for a deliberate format change (Fixtures/golden/README.md)"


@pytest.fixture(scope="module")
def produced(tmp_path_factory, cnnkit_bin, data_dir):
    """The manifest of one generator run: per output, its command and SHA-256, or the error of its step."""
    outdir = tmp_path_factory.mktemp("golden")
    result = subprocess.run([sys.executable, str(GOLDEN / "make_golden.py"), str(cnnkit_bin), str(outdir),
                             "--data", str(data_dir)], capture_output=True, text=True, timeout=600)
    manifest = outdir / "manifest.json"
    assert manifest.exists(), f"make_golden.py wrote no manifest (exit {result.returncode}):\n{result.stderr}"
    return {"outdir": outdir, **json.loads(manifest.read_text())}


def library_note(produced):
    """Says when the libhdf5 or zlib the binary loads differs from the recording's: that alone can change bytes."""
    recorded = {k: v for k, v in RECORDED["recorded_with"].items() if k != "cnnkit_sha256"}
    found = produced["libraries"]
    if not found or found == recorded:
        return ""
    return f" (recorded with {recorded}, this binary loads {found}: that alone can change HDF5, deflate and zstd bytes)"


@pytest.mark.parametrize("name", sorted(RECORDED["outputs"]))
def test_output_is_byte_identical(produced, name):
    recorded = RECORDED["outputs"][name]
    where = f"run in {produced['outdir']}"
    entry = produced["outputs"].get(name)
    assert entry is not None, f"{name}: no longer produced by make_golden.py (recorded from `{recorded['command']}`)"
    assert "error" not in entry, f"{name}: `{entry['command']}` ({where}) failed: {entry['error']}"
    assert entry["command"] == recorded["command"], (
        f"{name}: make_golden.py now runs `{entry['command']}`, the hash was recorded from `{recorded['command']}`")
    assert entry["sha256"] == recorded["sha256"], (
        f"{name} changed: `{recorded['command']}` ({where}) wrote {entry['bytes']} bytes with sha256 "
        f"{entry['sha256']}, recorded {recorded['bytes']} bytes with sha256 {recorded['sha256']}; "
        f"{RERECORD}{library_note(produced)}")


def test_every_output_is_recorded(produced):
    unrecorded = sorted(set(produced["outputs"]) - set(RECORDED["outputs"]))
    assert not unrecorded, f"make_golden.py produces outputs hashes.json does not have: {unrecorded}; record them"


def test_inputs_are_the_committed_ones():
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (GOLDEN / "inputs").iterdir()}
    expected = {name: entry["sha256"] for name, entry in RECORDED["inputs"].items()}
    assert found == expected, "Fixtures/golden/inputs changed: every recorded hash depends on those exact bytes"


def test_training_bytes_do_not_depend_on_threads_or_run(produced):
    """Training twice from the same recipe, with 1 or 2 threads, gives the same bytes (and the committed input)."""
    def digest(name):
        if name.startswith("input:"):
            return RECORDED["inputs"][name[len("input:"):]]["sha256"]
        return produced["outputs"][name].get("sha256")

    assert RECORDED["same_bytes"], "hashes.json lists no outputs that must be equal"
    for a, b in RECORDED["same_bytes"]:
        assert digest(a) is not None and digest(a) == digest(b), f"{a} and {b} must be byte-identical"


def test_deliberate_changes_are_listed():
    """Entries marked as deliberate format changes name a recorded output and a reason; they are printed."""
    marked = RECORDED["deliberate_changes"]
    for name, mark in marked.items():
        assert name in RECORDED["outputs"], f"deliberate_changes names {name}, which hashes.json does not record"
        assert mark.get("reason"), f"deliberate_changes[{name!r}] gives no reason"
    lines = [f"{name}: {mark['reason']}" for name, mark in sorted(marked.items())]
    print("outputs marked as deliberate format changes: " + ("; ".join(lines) if lines else "none"))
    if lines:
        warnings.warn("golden outputs re-recorded on purpose (hashes.json deliberate_changes):\n  "
                      + "\n  ".join(lines))
