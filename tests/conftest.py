"""Shared test set-up: Chromium for browser tests, the shared/ data folder, and one demo build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM_FLAGS = (
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
)


def pytest_setup_options():
    """dash[testing] asks for Chrome options here: Debian's Chromium, offline-friendly flags."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    return options


def pytest_collection_modifyitems(config, items):
    no_browser = pytest.mark.skip(reason="chromium/chromedriver not installed (./dev test installs them as root)")
    has_driver = shutil.which("chromedriver") is not None
    for item in items:
        if "dash_duo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            if not has_driver:
                item.add_marker(no_browser)


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real sample {path} not present (../shared/data is read in place, never copied)")
    return path


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """`patentgraph demo --no-serve` on a small generated dataset, run once for the session."""
    from typer.testing import CliRunner

    from graph.cli import app

    root = tmp_path_factory.mktemp("demo-workspace")
    result = CliRunner().invoke(
        app, ["--workspace", str(root), "demo", "--patents", "600", "--firms", "200", "--seed", "11", "--no-serve"]
    )
    if result.exit_code != 0:
        raise AssertionError(f"demo build failed ({result.exit_code}):\n{result.output}\n{result.exception!r}")
    return root, result.output
