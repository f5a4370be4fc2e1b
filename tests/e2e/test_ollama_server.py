"""Ollama's /api/* on a real server through the official ``ollama`` SDK: listings that
never load, chat and generate (whole and streamed, raw, JSON and schemas), a forced
tool call and its round trip, thinking on and off, embeddings, keep_alive and
loading, names, errors, the second port, and the example.

The models: the bundled SmolLM2 (real answers), tiny random-weight GGUFs carrying a
Hermes tool-call template and a template that opens a think block (their noise is
held to meaning by grammars and templates), and one that only listings touch."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from hoshikage_core.config.package_files import resolve_package_file
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf
from tests.conftest import REPO, SMOLLM2, RunningServer, free_port, start_server, stop_server
from tests.serving.families import FAMILIES
from tests.serving.test_reasoning import OPENS_THINK

pytestmark = pytest.mark.real_model

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo"]}}}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
CAPITAL = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
GREEDY = {"temperature": 0, "num_predict": 16}


@dataclass
class OllamaServer:
    server: RunningServer
    ollama_port: int
    files: dict[str, Path]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OllamaServer]:
    folder = tmp_path_factory.mktemp("ollama")
    files = {
        "smollm2": resolve_package_file(SMOLLM2),
        "hermes": write_tiny_gguf(folder / "hermes.gguf", context_length=4096,
                                  chat_template=FAMILIES["hermes"]),
        "thinker": write_tiny_gguf(folder / "thinker.gguf", context_length=4096,
                                   chat_template=OPENS_THINK),
        "listed": write_tiny_gguf(folder / "listed.gguf", chat_template=FAMILIES["hermes"]),
    }
    port = free_port()
    # one thread each: llama.cpp's threads wait for each other spinning, which a busy
    # 2-core machine turns into minutes; one is quick enough for these models
    options = "n_ctx = 2048\nn_threads = 1\nn_threads_batch = 1\n"
    lines = [f"[server]\nollama_port = {port}\n[defaults]\nmax_loaded_models = 4\n",
             f'[models.smollm2]\npath = "{SMOLLM2}"\naliases = ["default"]\n'
             f"[models.smollm2.options]\n{options}"]
    for name in ("hermes", "thinker", "listed"):
        lines.append(f'[models.{name}]\npath = "{files[name]}"\n[models.{name}.options]\n'
                     f"{options}")
    config = folder / "ollama.toml"
    config.write_text("\n".join(lines))
    server = start_server(config, folder / "ollama.log")
    yield OllamaServer(server, port, files)
    stop_server(server)


@pytest.fixture(scope="module")
def client(running: OllamaServer) -> ollama.Client:
    return ollama.Client(host=running.url, timeout=300)


def loaded(client: ollama.Client) -> dict[str, ollama.ProcessResponse.Model]:
    return {m.model or "": m for m in client.ps().models}


def wait_until_unloaded(client: ollama.Client, name: str) -> None:
    """Poll ``/api/ps`` (a bounded number of times) until ``name`` is not listed."""
    for _ in range(300):
        if name not in loaded(client):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} is still loaded: {loaded(client)}")


def test_version_and_the_second_port(running: OllamaServer) -> None:
    assert httpx.get(f"{running.url}/api/version").json() == {"version": "0.12.6"}
    other = ollama.Client(host=f"http://127.0.0.1:{running.ollama_port}")
    assert [m.model for m in other.list().models][0] == "smollm2:latest"
    assert "ollama_port" in running.server.log()


def test_tags_list_every_model_from_its_file(client: ollama.Client,
                                             running: OllamaServer) -> None:
    listed = {m.model: m for m in client.list().models}
    assert list(listed) == ["smollm2:latest", "hermes:latest", "thinker:latest",
                            "listed:latest"]
    smollm2 = listed["smollm2:latest"]
    path = running.files["smollm2"]
    assert smollm2.size == path.stat().st_size
    assert smollm2.modified_at is not None
    assert abs(smollm2.modified_at.timestamp() - path.stat().st_mtime) < 1e-3
    assert re.fullmatch(r"[0-9a-f]{64}", smollm2.digest or "")
    assert smollm2.details is not None and (
        smollm2.details.format, smollm2.details.family, smollm2.details.parameter_size,
        smollm2.details.quantization_level) == ("gguf", "llama", "135M", "Q4_1")
    tiny = listed["hermes:latest"].details
    assert tiny is not None and tiny.quantization_level == "F32"
    assert client.list().models[0].digest == smollm2.digest  # stable


def test_show_reads_capabilities_without_loading(client: ollama.Client) -> None:
    tools = client.show("listed:latest")
    assert tools.capabilities == ["completion", "tools", "embedding"]
    assert "<tool_call>" in (tools.template or "")
    assert tools.modelinfo is not None and tools.modelinfo["general.architecture"] == "llama"
    assert tools.modelinfo["tokenizer.ggml.tokens"] == []  # long arrays left out
    thinking = client.show("thinker")
    assert thinking.capabilities == ["completion", "embedding", "thinking"]
    plain = client.show("default")
    assert plain.capabilities == ["completion", "embedding"]
    assert (plain.template or "").startswith("{% for message in messages %}")
    assert plain.details is not None and plain.details.parameter_size == "135M"
    assert plain.modelinfo is not None and plain.modelinfo["llama.context_length"] == 8192
    assert "listed:latest" not in loaded(client) and "thinker:latest" not in loaded(client)


def test_chat_whole_and_streamed(client: ollama.Client) -> None:
    whole = client.chat("default", CAPITAL, options=GREEDY)
    assert "Paris" in (whole.message.content or "")
    assert whole.message.role == "assistant" and whole.done and whole.done_reason == "stop"
    assert (whole.prompt_eval_count or 0) > 10 and (whole.eval_count or 0) > 0
    assert (whole.total_duration or 0) > (whole.eval_duration or 0) > 0
    assert (whole.prompt_eval_duration or 0) > 0 and whole.load_duration is not None
    parts = list(client.chat("smollm2:latest", CAPITAL, options=GREEDY, stream=True))
    assert "".join(p.message.content or "" for p in parts) == whole.message.content
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    last = parts[-1]
    assert (last.done_reason, last.eval_count, last.prompt_eval_count) == (
        "stop", whole.eval_count, whole.prompt_eval_count)
    assert last.load_duration == 0  # it was loaded already
    short = client.chat("default", CAPITAL, options={"temperature": 0, "num_predict": 2})
    assert (short.done_reason, short.eval_count) == ("length", 2)
    probed = client.chat("default", CAPITAL, logprobs=True, top_logprobs=2,
                         options={"temperature": 0, "num_predict": 3})
    assert probed.logprobs and "".join(t.token for t in probed.logprobs) == \
        probed.message.content
    assert all(len(t.top_logprobs or ()) == 2 and t.logprob <= 0 for t in probed.logprobs)


def test_generate_whole_streamed_and_raw(client: ollama.Client) -> None:
    question = CAPITAL[0]["content"]
    whole = client.generate("default", question, options=GREEDY)
    assert "Paris" in (whole.response or "") and whole.done_reason == "stop"
    assert whole.context == [] and (whole.eval_count or 0) > 0
    parts = list(client.generate("default", question, options=GREEDY, stream=True))
    assert "".join(p.response or "" for p in parts) == whole.response and parts[-1].done
    brief, long = (client.generate("default", question, system=system,
                                   options={"num_predict": 1})
                   for system in ("Be brief.", "Be brief. " * 10))
    assert (long.prompt_eval_count or 0) > (brief.prompt_eval_count or 0) + 10
    raw = client.generate("default", "The capital of France is", raw=True,
                          options={"temperature": 0, "num_predict": 4})
    assert raw.response and raw.done_reason == "length" and raw.eval_count == 4
    chat_prompt = client.generate("default", "The capital of France is",
                                  options={"temperature": 0, "num_predict": 4})
    assert (raw.prompt_eval_count or 0) < (chat_prompt.prompt_eval_count or 0)  # no template


def test_format_json_and_a_schema(client: ollama.Client) -> None:
    ask = 'Reply with a JSON object whose key "city" is Paris.'
    anything = client.generate("default", ask, format="json",
                               options={"temperature": 0, "num_predict": 32})
    assert anything.done_reason == "stop", anything
    assert isinstance(json.loads(anything.response or ""), dict)
    schema = {"type": "object", "required": ["name", "population"], "properties": {
        "name": {"type": "string"}, "population": {"type": "integer"}}}
    city = client.chat("default", [{"role": "user", "content": "Describe Paris."}],
                       format=schema, options={"temperature": 0, "num_predict": 48})
    assert city.done_reason == "stop", city
    parsed = json.loads(city.message.content or "")
    assert isinstance(parsed["name"], str) and isinstance(parsed["population"], int)


def forced_call(running: OllamaServer, *, stream: bool) -> list[dict[str, Any]]:
    """A required call on the tiny Hermes model: Ollama has no tool_choice, so this uses
    Hoshikage's extension (raw JSON; the SDK does not send unknown fields)."""
    body = {"model": "hermes", "messages": ASK, "tools": [WEATHER], "tool_choice": "required",
            "stream": stream, "options": {"temperature": 0, "num_predict": 120}}
    response = httpx.post(f"{running.url}/api/chat", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_forced_tool_call_and_its_round_trip(client: ollama.Client,
                                               running: OllamaServer) -> None:
    (body,) = forced_call(running, stream=False)
    whole = ollama.ChatResponse.model_validate(body)  # as the SDK reads it
    (call,) = whole.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert call.function.arguments["city"] in ("Paris", "Oslo")
    assert whole.done_reason == "stop" and body["message"]["tool_calls"][0]["id"]
    lines = forced_call(running, stream=True)
    streamed = [c for line in lines for c in line.get("message", {}).get("tool_calls", [])]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in streamed] == [
        ("get_weather", call.function.arguments)]
    assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"
    after = client.chat("hermes", [*ASK, whole.message,
                                   {"role": "tool", "tool_name": "get_weather",
                                    "content": "Sunny, 21 C"}],
                        tools=[WEATHER], options={"temperature": 0, "num_predict": 8})
    assert after.done and (after.prompt_eval_count or 0) > (whole.prompt_eval_count or 0)


def test_tools_offered_to_a_model_that_may_not_call(client: ollama.Client) -> None:
    reply = client.chat("default", ASK, tools=[WEATHER],
                        options={"temperature": 0, "num_predict": 48})
    assert reply.done and (reply.message.content or reply.message.tool_calls)
    for call in reply.message.tool_calls or []:
        assert call.function.name == "get_weather"


def test_think_on_and_off(client: ollama.Client) -> None:
    options = {"temperature": 0, "num_predict": 8}
    on = client.chat("thinker", ASK, think=True, options=options)
    assert on.message.thinking and not on.message.content  # it never closes its block
    assert on.eval_count == 8
    parts = list(client.chat("thinker", ASK, think=True, options=options, stream=True))
    assert "".join(p.message.thinking or "" for p in parts) == on.message.thinking
    off = client.chat("thinker", ASK, think=False, options=options)
    assert off.message.content and off.message.thinking is None
    level = client.chat("thinker", ASK, think="low", options=options)
    assert level.message.thinking
    generated = client.generate("thinker", "What is the weather?", think=False,
                                options=options)
    assert generated.response and generated.thinking is None


def test_embed_and_embeddings(client: ollama.Client) -> None:
    out = client.embed("default", ["The cat sat on the mat.", "A dog barked."])
    first, second = out.embeddings
    assert len(first) == len(second) == 576  # SmolLM2's embedding size
    assert math.isclose(math.sqrt(sum(v * v for v in first)), 1.0, rel_tol=1e-3)
    assert first != second and (out.prompt_eval_count or 0) > 5
    assert (out.total_duration or 0) > 0
    short = client.embed("default", "The cat sat on the mat.", dimensions=8)
    assert len(short.embeddings[0]) == 8
    legacy = client.embeddings("default", "The cat sat on the mat.")
    assert legacy.embedding == pytest.approx(first, abs=1e-5)


def test_loading_keep_alive_and_unloading(client: ollama.Client) -> None:
    loaded_now = client.generate("hermes")
    assert (loaded_now.done, loaded_now.done_reason) == (True, "load")
    assert "hermes:latest" in loaded(client)
    client.chat("hermes", ASK, keep_alive=-1, options={"num_predict": 1})
    forever = loaded(client)["hermes:latest"].expires_at
    assert forever is not None and forever.year > 2200
    client.chat("hermes", ASK, keep_alive="10m", options={"num_predict": 1})
    ten = loaded(client)["hermes:latest"]
    now = datetime.now(timezone.utc)
    assert ten.expires_at is not None and now < ten.expires_at <= now + timedelta(minutes=10)
    assert ten.size and ten.size_vram == 0 and ten.context_length == 2048
    gone = client.generate("hermes", keep_alive=0)
    assert gone.done_reason == "unload" and "hermes:latest" not in loaded(client)
    preloaded = client.generate("hermes", keep_alive=-1)  # Ollama's "load and keep it"
    assert preloaded.done_reason == "load"
    assert loaded(client)["hermes:latest"].expires_at.year > 2200  # type: ignore[union-attr]
    client.generate("hermes", keep_alive=0)
    client.chat("thinker", ASK, keep_alive=0, options={"num_predict": 1})
    wait_until_unloaded(client, "thinker:latest")


def test_errors_come_in_ollamas_shape(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as unknown:
        client.chat("llama3.2", CAPITAL)
    assert unknown.value.status_code == 404
    assert unknown.value.error.startswith('model "llama3.2" not found')
    with pytest.raises(ollama.ResponseError) as missing:
        client.show("llama3.2:latest")
    assert missing.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as image:
        client.chat("default", [{"role": "user", "content": "What is this?",
                                 "images": ["iVBORw0KGgo="]}])
    assert image.value.status_code == 400 and "text only" in image.value.error
    with pytest.raises(ollama.ResponseError) as pull:
        client.pull("llama3.2")
    assert pull.value.status_code == 400 and "hoshikage.toml" in pull.value.error
    with pytest.raises(ollama.ResponseError) as delete:
        client.delete("smollm2")
    assert delete.value.status_code == 400


def test_the_example_runs(running: OllamaServer) -> None:
    env = {**os.environ, "HOSHIKAGE_URL": f"{running.url}/v1"}
    out = subprocess.run([sys.executable, "examples/ollama_client.py"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "models: smollm2:latest, hermes:latest" in out.stdout
    assert "Paris" in out.stdout and re.search(r"\[stop: \d+ tokens\]", out.stdout)
    assert re.search(r"city: City\(name='.+', country='.+', population=\d+\)", out.stdout)
