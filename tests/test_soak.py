"""The soak script in its short mode: hundreds of mixed requests, zero unexpected outcomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.real_model


def test_short_soak_has_no_unexpected_outcome(tmp_path: Path) -> None:
    out = tmp_path / "soak.md"
    run = subprocess.run([sys.executable, "bench/soak.py", "--short", "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    report = json.loads(out.with_suffix(".json").read_text())
    assert run.returncode == 0 and report["unexpected"] == 0, report["outcomes"]
    assert report["requests"] == 200 and report["server_exit"] == 0
    assert report["outcomes"].get("200", 0) + report["outcomes"].get("200 stream", 0) > 100
    assert report["model_loads"] >= 2  # models really came and went
    assert all(running == 0 and queued == 0
               for _, running, queued in report["final_states"].values())
    checkpoints = [n for n, _ in report["rss_unloaded"]]
    assert checkpoints == [100, 200]  # RSS with nothing loaded, measured as it goes
    assert "RSS with every model unloaded" in out.read_text()
