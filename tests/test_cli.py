"""The ``hoshikage`` command as a user runs it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import REPO, hoshikage_command, start_server, stop_server


def hoshikage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(hoshikage_command(*args), capture_output=True, text=True, cwd=REPO,
                          timeout=120, env={**os.environ, **(env or {})})


def test_version_and_help() -> None:
    out = hoshikage("--version")
    assert out.returncode == 0 and "hoshikage, version" in out.stdout
    helped = hoshikage("run", "--help")
    assert helped.returncode == 0 and "--config" in helped.stdout and "Examples" in helped.stdout


def test_config_check_accepts_the_example() -> None:
    out = hoshikage("config", "check", "examples/hoshikage.toml")
    assert out.returncode == 0, out.stderr
    assert "OK, 2 model(s)" in out.stdout


@pytest.mark.parametrize("command", [("config", "check"), ("run", "--config")],
                         ids=["config check", "run"])
def test_a_bad_config_names_file_key_and_expectation(command: tuple[str, str],
                                                     tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nprot = 8080\n[defaults]\nidle_timout = "5m"\n'
                   '[models.m]\npath = "missing.gguf"\n')
    out = hoshikage(*command, str(bad))
    assert out.returncode == 2
    assert str(bad) in out.stderr
    assert "server.prot: unknown key (did you mean 'port'?)" in out.stderr
    assert "defaults.idle_timout: unknown key (did you mean 'idle_timeout'?)" in out.stderr
    assert "models.m.path" in out.stderr and "does not exist" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) <= 4


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_with_a_missing_config_exits_with_a_message(how: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.toml")
    out = (hoshikage("run", "--config", missing) if how == "flag"
           else hoshikage("run", env={"HOSHIKAGE_CONFIG": missing}))
    assert out.returncode == 2
    assert f"Config file not found: {missing}" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.real_model
def test_run_serves_the_example_config(tmp_path: Path) -> None:
    """`hoshikage run --config examples/hoshikage.toml`: both of its models answer."""
    server = start_server(REPO / "examples" / "hoshikage.toml", tmp_path / "example.log",
                          cwd=REPO)
    try:
        listing = httpx.get(f"{server.url}/v1/models").json()["data"]
        assert {(m["id"], tuple(m["aliases"])) for m in listing} == {
            ("smollm2", ("default",)), ("smollm2-small", ("small",))}
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        for model in ("default", "small"):
            reply = client.chat.completions.create(
                model=model, max_tokens=8, temperature=0,
                messages=[{"role": "user", "content": "Say hello."}])
            assert reply.model == {"default": "smollm2", "small": "smollm2-small"}[model]
            assert reply.choices[0].message.content
    finally:
        assert stop_server(server) == 0
    assert "loading model smollm2 " in server.log()  # preload = true: loaded at startup


def test_run_refuses_a_public_address_without_keys() -> None:
    out = hoshikage("run", "--host", "0.0.0.0", "--port", "1")
    assert out.returncode == 2
    assert "Refusing to listen on 0.0.0.0 without API keys" in out.stderr


def test_plugins_lists_the_builtin_backend() -> None:
    out = hoshikage("plugins")
    assert out.returncode == 0
    llamacpp_row = next(line for line in out.stdout.splitlines() if line.startswith("llamacpp"))
    assert "entry point (hoshikage)" in llamacpp_row and "  ok  " in llamacpp_row
    assert "generate, load" in llamacpp_row
    listed = json.loads(hoshikage("plugins", "--json").stdout)
    llamacpp = next(p for p in listed if p["name"] == "llamacpp")
    assert llamacpp["version"] and llamacpp["source"] == "entry point"
    assert "hoshikage_generate" in llamacpp["hooks"] and llamacpp["unavailable"] is None


@pytest.mark.real_model
def test_run_without_config_serves_the_bundled_default(tmp_path: Path) -> None:
    """`hoshikage run` with no config: SmolLM2 as smollm2/default. Exits 0 on SIGINT."""
    server = start_server(None, tmp_path / "default.log")
    try:
        listing = httpx.get(f"{server.url}/v1/models").json()
        assert [(m["id"], m["aliases"]) for m in listing["data"]] == [("smollm2", ["default"])]
        # the README's promise, with the model's default sampling (no temperature given);
        # a fixed seed keeps the test deterministic (148 of 150 random seeds said Paris)
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="default", seed=1, messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one word."}])
        assert "Paris" in (reply.choices[0].message.content or "")
    finally:
        assert stop_server(server) == 0


def test_plugins_shows_folder_plugins_and_switches() -> None:
    out = hoshikage("plugins", "--config", "examples/words.toml",
                    env={"HOSHIKAGE_DISABLE_PLUGINS": "ctransformers"})
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert "dir" in rows["words"] and "  ok  " in rows["words"]
    assert "disabled by HOSHIKAGE_DISABLE_PLUGINS" in rows["ctransformers"]
    listed = json.loads(hoshikage("plugins", "--json", env={"HOSHIKAGE_LOAD_PLUGINS": ""}).stdout)
    assert all(p["disabled"] == "HOSHIKAGE_LOAD_PLUGINS" for p in listed)
