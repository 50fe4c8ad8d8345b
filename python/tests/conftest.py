"""Fixtures of the Python bindings' tests: the repository, the sample burst, the `obscura`
command line (to compare with), a scratch folder, and a table of measured figures printed at
the end of the run."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BURST = REPO / "samples" / "burst"

# name -> value, printed in the terminal summary (figures the report quotes)
FIGURES = {}


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.write_sep("-", "obscura figures")
        for k, v in FIGURES.items():
            terminalreporter.write_line(f"{k}: {v}")


@pytest.fixture(scope="session")
def burst():
    assert BURST.is_dir(), f"{BURST} is missing"
    return BURST


def _find_cli():
    env = os.environ.get("OBSCURA_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for p in (target / "release" / "obscura", REPO / "target" / "release" / "obscura"):
        if p.is_file():
            return p
    found = shutil.which("obscura")
    return Path(found) if found else None


@pytest.fixture(scope="session")
def cli():
    """Runs the `obscura` binary (built by `cargo build --release`); returns a function
    taking the arguments and returning the completed process."""
    exe = _find_cli()
    if exe is None:
        pytest.skip("the obscura binary is not built (cargo build --release); set OBSCURA_BIN")

    def run(*args, check=True):
        r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"obscura {' '.join(map(str, args))} failed: {r.stderr}")
        return r

    return run
