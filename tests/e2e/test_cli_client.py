"""The CLI against a real server, as a user runs it: chat, load (with its progress
bar on a terminal), models, shell completion."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hoshikage_core.cli import main
from tests.conftest import REPO, RunningServer, free_port, hoshikage_command

pytestmark = pytest.mark.real_model


def run(*args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hoshikage_command(*args), input=stdin, capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, **(env or {})})


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class InTerminal:
    """A command with stdout and stderr on a pseudo-terminal; ``shown`` is what it drew."""

    def __init__(self, *args: str) -> None:
        leader, follower = pty.openpty()
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
        env.pop("NO_COLOR", None)
        env.pop("HOSHIKAGE_CONFIG", None)
        self.process = subprocess.Popen(hoshikage_command(*args), stdin=subprocess.DEVNULL,
                                        stdout=follower, stderr=follower, cwd=REPO, env=env)
        os.close(follower)
        self._leader = leader
        self._shown = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._leader, 65536)
            except OSError:  # the process closed the terminal
                break
            if not data:
                break
            self._shown += data
        os.close(self._leader)

    @property
    def shown(self) -> str:
        return bytes(self._shown).decode(errors="replace")

    @property
    def text(self) -> str:
        """What it showed, without the terminal codes."""
        return ANSI.sub("", self.shown)

    def wait_for(self, text: str) -> None:
        for _ in range(3000):  # a hang guard, not a timing
            if text in self.text:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never shown:\n{self.text}")

    def finish(self) -> int:
        status = self.process.wait(timeout=300)
        self._reader.join(timeout=30)
        return status


def run_in_terminal(*args: str) -> tuple[int, str]:
    """Run to the end on a pseudo-terminal; returns (status, what it showed)."""
    terminal = InTerminal(*args)
    status = terminal.finish()
    return status, terminal.shown


def test_chat_from_a_pipe_answers_each_line(server: RunningServer) -> None:
    out = run("chat", "--url", server.url, "--seed", "1", "--temperature", "0",
              stdin="What is the capital of France? Answer in one word.\n"
                    "/clear\n"
                    '"""\nAnd of Italy?\nOne word.\n"""\n')
    assert out.returncode == 0, out.stderr
    answers = out.stdout.strip().splitlines()
    assert len(answers) == 2, out.stdout
    assert "Paris" in answers[0]
    assert answers[1].strip()
    assert "\x1b[" not in out.stdout  # no terminal codes in a pipe


def test_chat_is_a_conversation(server: RunningServer) -> None:
    """Each turn sends the whole conversation: the prompt grows by the last exchange."""
    out = run("chat", "default", "--url", server.url, "--temperature", "0", "--max-tokens",
              "10", "--verbose", "--system", "You are terse.",
              stdin="My name is Hoshiko.\nWhat is my name?\n/clear\nWhat is my name?\n")
    assert out.returncode == 0, out.stderr
    stats = [line for line in out.stderr.splitlines() if "prompt +" in line]
    counts = [tuple(int(n) for n in re.findall(r"(\d+) (?:prompt|generated)", line))
              for line in stats]
    assert len(counts) == 3, out.stderr
    (first_prompt, first_answer), (second_prompt, _), (after_clear, _) = counts
    assert second_prompt > first_prompt + first_answer  # turn 1 and its answer were sent
    assert after_clear < second_prompt  # /clear forgot them (the system prompt stays)
    assert "tokens/s" in stats[0]


def test_chat_with_an_unknown_model_says_so(server: RunningServer) -> None:
    out = run("chat", "gpt-4", "--url", server.url, stdin="hello\n")
    assert out.returncode == 1
    assert "The model 'gpt-4' does not exist" in out.stderr and "smollm2" in out.stderr


def test_load_shows_a_progress_bar_on_a_terminal(server: RunningServer) -> None:
    httpx.post(f"{server.url}/admin/models/never-used/unload", timeout=60).raise_for_status()
    status, shown = run_in_terminal("load", "never-used", "--url", server.url)
    try:
        assert status == 0, shown
        assert "\x1b[" in shown  # drawn with terminal codes
        text = ANSI.sub("", shown)
        assert "loading never-used" in text and "100%" in text and "━" in text
        assert "never-used: ready" in text
    finally:
        httpx.post(f"{server.url}/admin/models/never-used/unload", timeout=60)


def test_run_on_a_terminal_draws_loads_below_its_log(tiny_gguf_path: Path,
                                                     tmp_path: Path) -> None:
    config = tmp_path / "hoshikage.toml"
    config.write_text(f'[models.tiny]\npath = "{tiny_gguf_path}"\n')
    port = free_port()
    terminal = InTerminal("run", "--config", str(config), "--port", str(port))
    try:
        terminal.wait_for("Application startup complete")
        response = httpx.post(f"http://127.0.0.1:{port}/v1/completions", timeout=120,
                              json={"model": "tiny", "prompt": "Hi", "max_tokens": 2})
        assert response.status_code == 200
        terminal.wait_for("100%")
    finally:
        terminal.process.send_signal(signal.SIGINT)
    assert terminal.finish() == 0
    text = terminal.text
    assert "loading tiny" in text and "━" in text
    assert "\x1b[" in terminal.shown
    # the log goes on above the bar: after the load's lines, the bar is drawn again
    assert text.index("loading model tiny") < text.index("model tiny ready") \
        < text.rindex("loading tiny ")


def test_load_in_a_pipe_prints_one_line(server: RunningServer) -> None:
    httpx.post(f"{server.url}/admin/models/never-used/unload", timeout=60).raise_for_status()
    try:
        out = run("load", "never-used", "--url", server.url)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("never-used: ready (") and out.stderr == ""
    finally:
        httpx.post(f"{server.url}/admin/models/never-used/unload", timeout=60)


def test_models_lists_the_config(server_config: Path) -> None:
    out = run("models", "--config", str(server_config))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()}
    assert rows["NAME"][:5] == ["NAME", "ALIASES", "BACKEND", "SIZE", "CONTEXT"]
    assert rows["smollm2"][1:4] == ["default", "llamacpp", "93.8"]
    assert rows["smollm2"][5:8] == ["2048", "of", "8192"]  # n_ctx, and what it was trained for
    listed = json.loads(run("models", "--json", "--config", str(server_config)).stdout)
    smollm2 = next(m for m in listed if m["id"] == "smollm2")
    assert smollm2["context"] == 2048 and smollm2["trained_context"] == 8192
    assert smollm2["file_bytes"] > 90 * 2**20


def test_shell_completion_of_commands_and_model_names(server: RunningServer) -> None:
    script = run("completion", "bash")
    assert script.returncode == 0 and "_HOSHIKAGE_COMPLETE=bash_complete" in script.stdout
    env = {"_HOSHIKAGE_COMPLETE": "bash_complete", "HOSHIKAGE_URL": server.url}
    commands = run(env={**env, "COMP_WORDS": "hoshikage lo", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["plain,load"]
    names = run(env={**env, "COMP_WORDS": "hoshikage unload sm", "COMP_CWORD": "2"})
    assert names.stdout.split() == ["plain,smollm2"]


def test_every_command_has_help_with_examples() -> None:
    runner = CliRunner()
    commands: list[list[str]] = []

    def walk(group: object, path: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            commands.append([*path, name])
            walk(command, [*path, name])

    walk(main, [])
    assert {"run", "ps", "models", "load", "unload", "chat", "plugins", "completion"} <= {
        c[0] for c in commands}
    for command in commands:
        result = runner.invoke(main, [*command, "--help"], prog_name="hoshikage")
        assert result.exit_code == 0, command
        assert "Example" in result.output, command
