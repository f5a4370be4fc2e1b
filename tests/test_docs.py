"""Docs and examples are part of the feature: check they stay true."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hoshikage_core import hookspecs
from tests.conftest import REPO, RunningServer

HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("hoshikage_"))


def test_there_are_hooks() -> None:
    assert {"hoshikage_load", "hoshikage_generate", "hoshikage_unload"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_heading_in_plugins_md(hook: str) -> None:
    headings = re.findall(r"^### (\w+)$", (REPO / "docs" / "plugins.md").read_text(), re.M)
    assert hook in headings


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_its_own_test(hook: str) -> None:
    """datasette's convention: ``test_hook_<hook>`` in tests/test_hooks.py drives it."""
    from tests import test_hooks

    test = getattr(test_hooks, f"test_hook_{hook}", None)
    assert callable(test), f"tests/test_hooks.py has no test_hook_{hook}"
    assert hook in vars(test_hooks.Recorder), f"the tests' Recorder does not implement {hook}"


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_two_commands_and_ci_runs_the_second() -> None:
    install_and_run, install_and_test = readme_commands()
    assert "hoshikage run" in install_and_run and "[llamacpp]" in install_and_run
    assert "-c constraints.txt" in install_and_test and (REPO / "constraints.txt").exists()
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    # the browser tests' Chromium, which the README asks for, a brand-new virtual
    # environment, then the README's exact command in it
    assert ci_lines[-1] == install_and_test
    assert ci_lines[-2].startswith('python3 -m venv "$fresh/venv" && . "$fresh/venv/bin/')
    assert ci_lines[-3].startswith('fresh="$(mktemp -d)"')
    assert all(line.startswith(("command -v chromium", "export HOSHIKAGE_REQUIRE_BROWSER"))
               for line in ci_lines[:-3]), ci_lines
    assert "apt-get install chromium" in (REPO / "README.md").read_text()


def test_the_japanese_readme_keeps_in_step() -> None:
    """README.ja.md has README.md's code blocks (the two commands, the examples) in the
    same order, word for word, its links and as many sections."""
    def blocks(text: str) -> list[str]:
        return re.findall(r"^```[^\n]*\n.*?^```", text, re.M | re.S)

    def links(text: str) -> set[str]:
        return set(re.findall(r"\]\(([^)#]+)\)", text)) - {"README.md", "README.ja.md"}

    english = (REPO / "README.md").read_text()
    japanese = (REPO / "README.ja.md").read_text()
    assert blocks(japanese) == blocks(english)
    assert links(japanese) == links(english)
    assert len(re.findall(r"^## ", japanese, re.M)) == len(re.findall(r"^## ", english, re.M))
    assert "(README.ja.md)" in english and "(README.md)" in japanese


def test_constraints_pin_every_dependency_exactly() -> None:
    pins = [line for line in (REPO / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.+!-]+", p) for p in pins), pins
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    assert {"llama-cpp-python", "pytest", "schemathesis", "fastapi", "pydantic"} <= names


@pytest.mark.parametrize("backend", ["llamacpp", "ctransformers"])
def test_every_backend_option_is_documented(backend: str) -> None:
    from hoshikage_backends.ctransformers.options import CTransformersOptions
    from hoshikage_backends.llamacpp.options import LlamaCppOptions

    options = {"llamacpp": LlamaCppOptions, "ctransformers": CTransformersOptions}[backend]
    text = (REPO / "docs" / "configuration.md").read_text()
    section = text.split(f'for `backend = "{backend}"`', 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", section, re.M))
    names = {n for pair in documented for n in pair if n}
    assert names == set(options.model_fields)


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_every_example_config_is_valid(path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "hoshikage_core", "config", "check", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.mark.real_model
def test_embed_example_prints_a_completion() -> None:
    out = subprocess.run([sys.executable, "examples/embed.py"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "models: smollm2" in out.stdout
    completion = re.search(r"completion: '(.+)' \((stop|length)", out.stdout)
    assert completion and completion.group(1).strip()


@pytest.mark.real_model
def test_chat_openai_example_streams_an_answer(server: RunningServer) -> None:
    env = {**os.environ, "HOSHIKAGE_URL": f"{server.url}/v1"}
    out = subprocess.run([sys.executable, "examples/chat_openai.py"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout


@pytest.mark.real_model
@pytest.mark.parametrize(("script", "expected"), [
    ("structured_output.py", r"City\(name='.+', country='.+', population=\d+\)"),
    ("tools.py", r"model called get_weather\(\{'city': '.+', 'unit': '(celsius|fahrenheit)'\}\)"),
    ("embeddings.py", r"\d\.\d{3}  The cat sat on the mat\."),
    ("claude_messages.py", r"\n\[(end_turn|max_tokens)\]\n"
                           r"model called get_weather\(\{'city': '.+'\}\) \[tool_use\]\n"
                           r"model said: "),
    ("responses.py", r"answer: .+\nfollow-up: .+\ntokens: \d+ in \(\d+ cached\), \d+ out\n"
                     r"model called get_weather\(\{'city': '.+'\}\)\nmodel said: "),
    ("agent.py", r"step 0: get_(weather|time)\(\{'city': '(Paris|Tokyo|Lima)'\}\) -> .+"
                 r"(\n.*)*\nanswer: "),
])
def test_openai_feature_examples(server: RunningServer, script: str, expected: str) -> None:
    env = {**os.environ, "HOSHIKAGE_URL": f"{server.url}/v1"}
    out = subprocess.run([sys.executable, f"examples/{script}"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(expected, out.stdout), out.stdout


@pytest.mark.real_model
def test_agent_sessions_example_shows_the_caches_at_work(server: RunningServer) -> None:
    env = {**os.environ, "HOSHIKAGE_URL": f"{server.url}/v1"}
    out = subprocess.run([sys.executable, "examples/agent_sessions.py"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    cached = {(name, int(turn)): int(count) for name, turn, count in re.findall(
        r"session (\w) turn (\d): (\d+) of \d+ prompt tokens cached", out.stdout)}
    # B's first turn finds the shared system prompt; A's second finds all of its first
    # turn, although B's turn took the slot in between (restored from host memory)
    assert cached[("A", 2)] > cached[("B", 1)] > 0, out.stdout
    accepted = re.search(r"edit: \d+ tokens written, (\d+) drafted tokens accepted", out.stdout)
    assert accepted and int(accepted.group(1)) > 0, out.stdout


@pytest.mark.real_model
def test_reasoning_example_separates_thinking() -> None:
    out = subprocess.run([sys.executable, "examples/reasoning.py"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(r"tokens: +48 of which thinking 48", out.stdout), out.stdout
    assert "with a budget of 8 tokens: thinking 8 then answer" in out.stdout
    assert "thinking off: None ->" in out.stdout


@pytest.mark.real_model
def test_fastapi_mount_example(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    sys.path.insert(0, str(REPO))
    try:
        from examples.fastapi_mount import app
    finally:
        sys.path.remove(str(REPO))
    with TestClient(app) as client:
        assert client.get("/llm/v1/models").json()["data"][0]["id"] == "smollm2"
        assert client.get("/llm/health").json()["status"] == "ok"
        assert client.get("/").json()["hoshikage means"]


@pytest.mark.parametrize("table", ["ServerConfig", "DefaultsConfig", "ModelConfig",
                                   "SamplingDefaults", "PluginsConfig", "ClusterConfig",
                                   "ModelClusterConfig", "PoolConfig", "DiscoveryConfig",
                                   "ReloadConfig"])
def test_every_config_key_is_documented(table: str) -> None:
    from hoshikage_core.config import cluster, schema

    text = (REPO / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(\w+)`", text))
    missing = set(getattr(schema, table, getattr(cluster, table, None)).model_fields) - documented
    assert not missing, f"{table}: undocumented keys {missing}"


def test_admin_fields_are_documented() -> None:
    from hoshikage_core.lifecycle.state import ModelInfo, ModelState

    fields = set(ModelInfo("x", "b", (), ModelState.READY, None).to_dict())
    text = (REPO / "docs" / "admin.md").read_text()
    assert all(f'"{name}"' in text for name in fields)


def test_every_metric_is_documented() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from hoshikage_core.ops.metrics import Metrics

    metrics = Metrics()
    metrics.watch_models(lambda: [])
    text = (REPO / "docs" / "observability.md").read_text()
    names = {family.name for family in text_string_to_metric_families(
        metrics.exposition().decode())}
    names |= {"hoshikage_model_loaded", "hoshikage_model_memory_bytes",
              "hoshikage_running_requests", "hoshikage_queue_depth"}
    for name in names:
        documented = f"`{name}`" in text or f"`{name}_total`" in text
        assert documented, name
