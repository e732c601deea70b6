"""Shared fixtures for the interop tests: the cnnkit binary, the data set, and Keras on the jax backend.

Run from the package root: `.venv/bin/python -m pytest Tests/Interop`. `CNNKIT_BIN` names the cnnkit binary
(default `.build/debug/cnnkit`); `CNNKIT_DATA` the Fashion-MNIST folder (default
`/usr/share/datasets/fashion-mnist`).
"""

import json
import logging
import os
import subprocess
from pathlib import Path

import pytest

# Keras picks its backend when first imported; every interop test uses jax.
os.environ.setdefault("KERAS_BACKEND", "jax")

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cnnkit_bin():
    """The cnnkit executable; the tests are skipped when it has not been built."""
    path = Path(os.environ.get("CNNKIT_BIN", PACKAGE_ROOT / ".build" / "debug" / "cnnkit"))
    if not path.is_absolute():
        path = PACKAGE_ROOT / path
    if not path.exists():
        pytest.skip(f"cnnkit binary not found at {path} (build it or set CNNKIT_BIN)")
    return path


@pytest.fixture(scope="session")
def data_dir():
    """The Fashion-MNIST folder (Debian package dataset-fashion-mnist)."""
    path = Path(os.environ.get("CNNKIT_DATA", "/usr/share/datasets/fashion-mnist"))
    if not path.exists():
        pytest.skip(f"Fashion-MNIST not found at {path} (apt-get install dataset-fashion-mnist)")
    return path


@pytest.fixture(scope="session")
def cnnkit(cnnkit_bin):
    """Runs cnnkit with arguments; fails the test with its stderr unless the exit code is `expect`."""

    def run(*args, expect=0):
        result = subprocess.run([str(cnnkit_bin), *map(str, args)], capture_output=True, text=True, timeout=600)
        assert result.returncode == expect, (
            f"cnnkit {' '.join(map(str, args))} exited {result.returncode}, expected {expect}\nstderr:\n{result.stderr}"
        )
        return result

    return run


@pytest.fixture(scope="session")
def cnnkit_json(cnnkit):
    """Runs cnnkit with `--json` appended and returns the parsed stdout."""

    def run(*args):
        return json.loads(cnnkit(*args, "--json").stdout)

    return run


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on the jax backend."""
    return pytest.importorskip("keras")


class LogRecorder(logging.Handler):
    """Collects log records at WARNING and above from every logger (absl logs through `logging`)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (minutes); skipped unless its environment variable is set (test_kill.py: CNNKIT_SLOW=1)")
