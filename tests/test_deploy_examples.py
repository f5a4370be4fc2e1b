"""The service examples stay true: the systemd unit verifies, and the command lines in
the unit and the Dockerfile are ones ``hoshikage`` accepts."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hoshikage_core.cli import main
from tests.conftest import REPO

UNIT = REPO / "examples" / "hoshikage.service"
DOCKERFILE = REPO / "examples" / "Dockerfile"


def parses(argv: list[str]) -> None:
    """``hoshikage ARGV`` is a command with options it knows (parsed, not run)."""
    assert argv[0] == "hoshikage"
    import click

    command = main.get_command(click.Context(main), argv[1])
    assert command is not None, argv
    command.make_context(argv[1], argv[2:])  # raises on an unknown option


def test_the_unit_verifies_with_systemd(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # point ExecStart at this Python and run as root, which exist on the test machine
    unit = UNIT.read_text()
    unit = unit.replace("/opt/hoshikage/bin/hoshikage", f"{sys.executable} -m hoshikage_core")
    unit = re.sub(r"^(User|Group)=.*$", r"\1=root", unit, flags=re.M)
    (tmp_path / "hoshikage.service").write_text(unit)
    out = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "hoshikage.service")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Unknown" not in out.stderr and "ignoring" not in out.stderr, out.stderr


def test_the_unit_runs_a_command_hoshikage_accepts() -> None:
    exec_start = re.search(r"^ExecStart=(.+)$", UNIT.read_text(), re.M)
    assert exec_start
    argv = shlex.split(exec_start.group(1))
    parses(["hoshikage", *argv[1:]])
    assert "RestartPreventExitStatus=2" in UNIT.read_text()  # our exit status for bad config


def test_the_dockerfile_runs_a_command_hoshikage_accepts() -> None:
    text = DOCKERFILE.read_text()
    cmd = re.search(r"^CMD (\[.+\])$", text, re.M)
    assert cmd
    parses(json.loads(cmd.group(1)))
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in source.split():
            assert (REPO / path).exists(), path
    assert "'.[llamacpp]'" in text
