"""The benchmark script keeps working (short mode; figures are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.real_model


def test_short_benchmark_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    run = subprocess.run([sys.executable, "bench/run.py", "--short", "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = out.read_text()
    for heading in ("## One stream", "## 2 concurrent streams", "## Start, load, switch"):
        assert heading in report
    for system in ("raw llama-cpp-python", "hoshikage", "llama-cpp-python server"):
        assert f"| {system} |" in report
    assert "model switch" in report and "RSS" in report
    assert out.with_suffix(".png").stat().st_size > 1000
    assert out.with_suffix(".json").exists()


def test_overhead_script_reports_cpu_per_token() -> None:
    run = subprocess.run([sys.executable, "bench/overhead.py", "--tokens", "300", "--rounds",
                          "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["completions", "chat"]
    for line in lines:
        assert re.search(r": \d+ µs of server CPU per streamed token .*; 30[12] tokens", line)
