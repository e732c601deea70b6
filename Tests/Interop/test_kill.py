"""`kill -9` at random moments while `cnnkit convert` writes a model (Documentation/cli.md, section 1.9).

After every kill the destination is either the old file, byte for byte, or the complete new file (the same
SHA-256 as a reference conversion that was verified), and no temporary file is left in the folder: every writer,
HDF5's included (through CNNKit's descriptor driver), writes an unnamed `O_TMPFILE` file that vanishes with the
process. Named temporaries (a file system without `O_TMPFILE`) would be removed by the next write to the same
destination; that is checked too.

- `test_kill_fast`: 3 kills per format on a model of about 21 MB; part of `make test`.
- `test_kill_slow` (marked `slow`, run only with `CNNKIT_SLOW=1`): `CNNKIT_KILLS` kills (default 20) per format on
  a model of over 200 MB (207.8 MB raw; its deflated CNNZ is about 173 MB); prints the table. `Benchmarks/kill_test.sh` runs it. `CNNKIT_KILL_SEED` fixes the
  random moments.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import time

import pytest

FORMATS = [".cnnz", ".h5"]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_model(cnnkit, data_dir, folder, units):
    """An initialised model (conv 32 3x3, dense `units`, dense 10) as raw CNNZ: 4 * (21632 * units) bytes and more."""
    arch = folder / "arch.json"
    arch.write_text(json.dumps({"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
        {"type": "conv2d", "filters": 32, "kernel": [3, 3], "bias": True}, {"type": "relu"}, {"type": "flatten"},
        {"type": "dense", "units": units, "bias": True}, {"type": "relu"}, {"type": "dense", "units": 10, "bias": True},
        {"type": "softmax"}]}))
    path = folder / "source.cnnz"
    cnnkit("train", "--data", data_dir, "--arch", arch, "--epochs", "0", "--limit", "8", "--out", path)
    return path


def temporaries_open(pid, folder):
    """The files under `folder` the process holds open (its temporary while it writes), from /proc/PID/fd."""
    found = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(folder) + "/"):
                found.append(target)
    except OSError:
        pass
    return found


def kill_campaign(cnnkit, cnnkit_bin, source, old_model, work, extension, kills, rng):
    """`kills` conversions of `source` to work/out.EXT, each killed with SIGKILL at a random moment."""
    reference = work / "reference"
    reference.mkdir()
    new = reference / f"new{extension}"
    cnnkit("convert", source, new)  # verified against the source
    timed = reference / f"timed{extension}"
    start = time.monotonic()
    cnnkit("convert", source, timed, "--no-verify")
    duration = time.monotonic() - start
    assert sha256(timed) == sha256(new), "conversions are deterministic"
    new_sha = sha256(new)
    old = reference / f"old{extension}"
    cnnkit("convert", old_model, old, "--no-verify")
    old_sha = sha256(old)
    assert old_sha != new_sha

    folder = work / "out"
    folder.mkdir()
    out = folder / f"out{extension}"
    row = {"format": extension, "kills": 0, "finished_first": 0, "writing": 0, "old_intact": 0, "new_complete": 0,
           "neither": 0, "left_after_kill": 0, "largest_left": 0, "left_after_next_write": 0, "seconds": duration,
           "bytes": new.stat().st_size}
    leftovers_before = set()
    while row["kills"] < kills:
        if not out.exists() or sha256(out) != old_sha:
            shutil.copyfile(old, out)
        out.chmod(0o640)
        process = subprocess.Popen([str(cnnkit_bin), "convert", str(source), str(out), "--no-verify"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0, duration))
        writing = temporaries_open(process.pid, folder)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        if process.returncode != -signal.SIGKILL:
            row["finished_first"] += 1
            leftovers_before = set()  # a complete write removed them (checked at the end)
            continue
        row["kills"] += 1
        row["writing"] += bool(writing)
        digest = sha256(out)
        if writing or digest == new_sha:
            # This run reached the write, which first removes what earlier kills left (named temporaries of
            # dead processes); a run killed before it (still reading the input) had no chance to.
            row["left_after_next_write"] += len(leftovers_before & set(os.listdir(folder)))
            leftovers_before = set()
        if digest == old_sha:
            row["old_intact"] += 1
        elif digest == new_sha:
            row["new_complete"] += 1
            assert stat.S_IMODE(out.stat().st_mode) == 0o640, "the new file keeps the old one's mode"
        else:
            row["neither"] += 1
        # What this kill left (files an earlier kill left and no write has removed yet are not counted again).
        left = [n for n in os.listdir(folder) if n != out.name and n not in leftovers_before]
        if left:
            row["left_after_kill"] += 1
            row["largest_left"] = max(row["largest_left"], *((folder / n).stat().st_size for n in left))
        leftovers_before |= set(left)
    # One complete write at the end removes whatever the last kill left.
    cnnkit("convert", source, out, "--no-verify")
    assert sha256(out) == new_sha
    row["left_at_end"] = sorted(n for n in os.listdir(folder) if n != out.name)
    return row


def table(rows):
    head = "format  kills  temp open at kill  old intact  new complete  neither  kills leaving a file (largest)  left after next write"
    lines = [head]
    for r in rows:
        lines.append(f"{r['format']:<7} {r['kills']:>5}  {r['writing']:>17}  {r['old_intact']:>10}  {r['new_complete']:>12}  {r['neither']:>7}"
                     f"  {r['left_after_kill']:>14} ({r['largest_left']:>11} B)  {r['left_after_next_write']:>21}")
    lines.append("(model " + ", ".join(f"{r['format']} {r['bytes']} B, write {r['seconds']:.1f} s" for r in rows)
                 + f"; {sum(r['finished_first'] for r in rows)} runs finished before their kill and were not counted)")
    return "\n".join(lines)


def check(rows):
    for r in rows:
        assert r["neither"] == 0, f"{r['format']}: a kill left the destination neither old nor new: {r}"
        assert r["old_intact"] + r["new_complete"] == r["kills"]
        assert r["left_at_end"] == [], f"{r['format']}: temporary files remain after a complete write: {r['left_at_end']}"
        assert r["left_after_next_write"] == 0, f"{r['format']}: a later write did not remove a killed writer's temporary: {r}"
        # Unnamed temporaries: nothing to leave behind, whatever the moment of the kill.
        assert r["left_after_kill"] == 0, f"{r['format']}: a kill left a file: {r}"


def campaign(cnnkit, cnnkit_bin, data_dir, tmp_path_factory, units, kills):
    seed = int(os.environ.get("CNNKIT_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    models = tmp_path_factory.mktemp("kill-models")
    source = make_model(cnnkit, data_dir, models, units)
    old_model = models / "old.h5"
    cnnkit("train", "--data", data_dir, "--limit", "100", "--batch-size", "8", "--epochs", "1", "--out", old_model)
    rows, folders = [], [models]
    print(f"\nsource model {source.stat().st_size} bytes")
    for extension in FORMATS:
        folders.append(tmp_path_factory.mktemp("kill"))
        rows.append(kill_campaign(cnnkit, cnnkit_bin, source, old_model, folders[-1], extension, kills, rng))
    for folder in folders:  # the models are large; kept only when the campaign itself failed
        shutil.rmtree(folder, ignore_errors=True)
    return seed, rows


def test_kill_fast(cnnkit, cnnkit_bin, data_dir, tmp_path_factory):
    seed, rows = campaign(cnnkit, cnnkit_bin, data_dir, tmp_path_factory, units=240, kills=3)
    print(f"\nkill test, seed {seed}\n{table(rows)}")
    check(rows)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CNNKIT_SLOW") != "1", reason="slow (a 200 MB model, 20 kills per format): set CNNKIT_SLOW=1")
def test_kill_slow(cnnkit, cnnkit_bin, data_dir, tmp_path_factory, capsys):
    kills = int(os.environ.get("CNNKIT_KILLS", "20"))
    with capsys.disabled():
        seed, rows = campaign(cnnkit, cnnkit_bin, data_dir, tmp_path_factory, units=2400, kills=kills)
        print(f"kill test, seed {seed}\n{table(rows)}")
    assert rows[1]["bytes"] > 200_000_000, "the HDF5 output (the raw model) is over 200 MB"
    check(rows)
