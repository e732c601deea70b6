"""Every libhdf5 use is bounded in time (Documentation/cli.md 1.9, "Robustness": no command runs longer than a
stated bound on a damaged file).

libhdf5 1.10.8 loops forever on the files of Fixtures/hdf5/hang (a zeroed global heap object header before
/cnnkit@architecture; see make_hang_fixtures.py there). Two defences are checked here:

- the checked file driver refuses those files at once (exit 65, naming the damaged collection);
- the watchdog: with libhdf5's own driver (`CNNKIT_HDF5_DRIVER=sec2`, for which libhdf5 really loops) and a short
  limit (`CNNKIT_HDF5_TIME_LIMIT`), inspect, verify and convert end with exit 65 within the limit plus a margin,
  with one line naming the file and the HDF5 path, and leave no temporary file behind; the default limit (10 s
  for a small file) holds too;

and a legitimate 50 MB file reads, verifies and converts under the limits (no false alarm).
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
HANG = PACKAGE_ROOT / "Fixtures" / "hdf5" / "hang"
FIXTURES = ["arch-gheap-free-size-0.h5", "arch-gheap-free-size-0.weights.h5", "arch-gheap-free-size-0.keras"]
COMMANDS = ["inspect", "verify", "convert"]
# Process start-up, the watchdog's 0.25 s period and a loaded machine (the bound itself is in the message).
MARGIN = 5.0
# No test waits longer than this for a command, whatever happens.
OUTER_TIMEOUT = 120


def run(cnnkit_bin, args, env=None, cwd=None):
    """Runs cnnkit; returns (result, seconds). Fails the test if it does not end within OUTER_TIMEOUT."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CNNKIT_HDF5_")}
    environment.update(env or {})
    started = time.monotonic()
    try:
        result = subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, env=environment,
                                timeout=OUTER_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cnnkit {' '.join(map(str, args))} ran over {OUTER_TIMEOUT} s")
    return result, time.monotonic() - started


def command_args(command, fixture, out_dir):
    if command == "convert":
        return [command, HANG / fixture, out_dir / "out.h5"]
    return [command, HANG / fixture]


def mib(path):
    return path.stat().st_size / 1048576


def leftovers(*folders):
    return sorted(str(p) for folder in folders for p in Path(folder).iterdir())


@pytest.fixture
def folders(tmp_path):
    """An output folder and a TMPDIR (where a .keras's weights are extracted), both empty."""
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    scratch.mkdir()
    return out, scratch


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_checked_driver_refuses_the_hang_fixtures_at_once(cnnkit_bin, folders, fixture, command):
    out, scratch = folders
    result, seconds = run(cnnkit_bin, command_args(command, fixture, out), env={"TMPDIR": str(scratch)})
    assert result.returncode == 65, result.stderr
    assert seconds < MARGIN, f"{seconds:.2f} s"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    name = f"{HANG / fixture}" + (":model.weights.h5" if fixture.endswith(".keras") else "")
    assert lines[0].startswith(f"cnnkit: {name}: at /cnnkit@architecture: H5Aread failed while reading (cnnkit_read(): global heap collection at byte "), lines[0]
    assert "has size 0 (libhdf5 1.10 would read it forever)" in lines[0]
    assert leftovers(out, scratch) == []


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_watchdog_ends_a_libhdf5_loop_within_the_bound(cnnkit_bin, folders, fixture, command):
    out, scratch = folders
    base = 2.0
    env = {"CNNKIT_HDF5_DRIVER": "sec2", "CNNKIT_HDF5_TIME_LIMIT": str(base), "TMPDIR": str(scratch)}
    result, seconds = run(cnnkit_bin, command_args(command, fixture, out), env=env)
    # The limit scales with the largest HDF5 file opened: the fixture (or the .keras's weights, a little smaller).
    bound = base + 0.2 * mib(HANG / fixture)
    assert result.returncode == 65, result.stderr
    assert base <= seconds <= bound + MARGIN, f"{seconds:.2f} s for a bound of {bound:.2f} s"
    assert result.stdout == ""
    name = f"{HANG / fixture}" + (":model.weights.h5" if fixture.endswith(".keras") else "")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"cnnkit: {name}: libhdf5 did not finish reading within "
    suffix = " s: the file is damaged (HDF5 path /cnnkit@architecture, in H5Aread)"
    assert lines[0].startswith(prefix) and lines[0].endswith(suffix), lines[0]
    stated = float(lines[0][len(prefix):-len(suffix)])
    assert base <= stated <= bound + 0.01
    # Nothing half-written: no output, no temporary beside it, no extracted weights in TMPDIR.
    assert leftovers(out, scratch) == []


def test_the_default_bound_is_10_seconds_for_a_small_file(cnnkit_bin, folders):
    out, scratch = folders
    fixture = HANG / FIXTURES[0]
    result, seconds = run(cnnkit_bin, ["inspect", fixture], env={"CNNKIT_HDF5_DRIVER": "sec2", "TMPDIR": str(scratch)})
    bound = 10 + 0.2 * mib(fixture)
    assert result.returncode == 65, result.stderr
    assert 10 <= seconds <= bound + MARGIN, f"{seconds:.2f} s"
    assert f"libhdf5 did not finish reading within {seconds_text(bound)} s: the file is damaged" in result.stderr


def seconds_text(value):
    """Seconds as the message states them: two decimals, without trailing zeros."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


@pytest.mark.parametrize("variable, value", [("CNNKIT_HDF5_TIME_LIMIT", "soon"), ("CNNKIT_HDF5_TIME_LIMIT", "-1"),
                                             ("CNNKIT_HDF5_DRIVER", "core")])
def test_settings_the_tool_does_not_take_are_usage_errors(cnnkit_bin, variable, value):
    result, _ = run(cnnkit_bin, ["inspect", HANG / FIXTURES[0]], env={variable: value})
    assert result.returncode == 64
    assert result.stderr.startswith(f"cnnkit: {variable}: expected ") and f"found '{value}'" in result.stderr


# A legitimate large file -------------------------------------------------------------------------------------------

# 784 -> 16384 -> 10: 13 million parameters, a 50 MiB HDF5 file.
LARGE = {
    "version": 1,
    "input": {"height": 28, "width": 28, "channels": 1},
    "preprocessing": {"scale": 0.00392156862745098, "offset": -0.5},
    "layers": [
        {"type": "flatten", "name": "flatten"},
        {"type": "dense", "name": "dense", "units": 16384, "bias": True},
        {"type": "relu", "name": "re_lu"},
        {"type": "dense", "name": "dense_1", "units": 10, "bias": True},
        {"type": "softmax", "name": "softmax"},
    ],
}


@pytest.fixture(scope="module")
def large(tmp_path_factory, cnnkit, data_dir):
    folder = tmp_path_factory.mktemp("large")
    arch = folder / "arch.json"
    arch.write_text(json.dumps(LARGE))
    path = folder / "large.h5"
    cnnkit("train", "--data", data_dir, "--arch", arch, "--limit", "8", "--epochs", "0", "--out", path)
    assert path.stat().st_size > 50_000_000
    return path


@pytest.mark.parametrize("limit", [None, "1,0.05"])
def test_a_large_file_reads_within_the_bound(cnnkit_bin, large, tmp_path, limit):
    """With the default limit, and with one twenty times tighter per MiB (1 s + 0.05 s/MiB, 3.5 s for this file)."""
    env = {"CNNKIT_HDF5_TIME_LIMIT": limit} if limit else {}
    # The last conversion writes HDF5 from CNNZ: decompressing each tensor happens inside the writer's section.
    for args in (["inspect", large], ["verify", large], ["convert", large, tmp_path / "large-copy.h5"],
                 ["convert", large, tmp_path / "large.weights.h5"], ["convert", large, tmp_path / "large.cnnz"],
                 ["convert", tmp_path / "large.cnnz", tmp_path / "from-cnnz.h5"]):
        result, seconds = run(cnnkit_bin, args, env=env)
        assert result.returncode == 0, f"{args[0]}: {result.stderr}"
        print(f"{' '.join(map(str, args))}: {seconds:.2f} s")
