"""Ollama's /api/* over a scripted backend, through the official ``ollama`` SDK and raw
httpx against the ASGI app in-process: shapes, names, errors, streams that fail
mid-way, and the pure translations. The same paths on real models: tests/e2e."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import ollama
import pytest

from hoshikage_core import Hoshikage, create_app
from hoshikage_core.api.ollama.names import tagged
from hoshikage_core.api.ollama.options import Options, keep_alive_seconds, think_fields
from hoshikage_core.api.ollama.protocol import MessageIn, conversation
from hoshikage_core.api.ollama.reply import Reply, Timing
from hoshikage_core.serving import (
    ChoiceEnd,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCallArguments,
    ToolCallStart,
)
from hoshikage_core.types import Usage
from tests.fakes import EchoWithExtras

CHAT = [{"role": "user", "content": "hello there world"}]


@pytest.fixture
def echo() -> EchoWithExtras:
    return EchoWithExtras()


@pytest.fixture
async def hoshikage(tmp_path: Path, echo: EchoWithExtras) -> AsyncIterator[Hoshikage]:
    model_file = tmp_path / "m.bin"  # not a GGUF: listings say what they can
    model_file.write_bytes(b"x" * 10)
    cfg = {"models": {"echo": {"backend": "echo", "path": str(model_file),
                               "aliases": ["default"]}}}
    async with Hoshikage(cfg, plugins={"echo": echo}) as hk:
        yield hk


@pytest.fixture
async def http(hoshikage: Hoshikage) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(hoshikage))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def client(hoshikage: Hoshikage) -> ollama.AsyncClient:
    return ollama.AsyncClient(host="http://test",
                              transport=httpx.ASGITransport(app=create_app(hoshikage)))


def ollama_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return str(body["error"])


async def test_version_tags_and_show(client: ollama.AsyncClient,
                                     http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/version")).json() == {"version": "0.12.6"}
    listed = (await client.list()).models
    assert [m.model for m in listed] == ["echo:latest"]
    assert listed[0].size == 10 and len(listed[0].digest or "") == 64
    assert listed[0].details is not None and listed[0].details.family == ""
    shown = await client.show("default:latest")
    assert shown.capabilities == ["completion", "embedding"]
    assert shown.template == "" and shown.modelinfo == {}
    assert (await client.ps()).models == []  # showing and listing load nothing


async def test_chat_whole_and_streamed(client: ollama.AsyncClient, echo: EchoWithExtras) -> None:
    whole = await client.chat("default", CHAT, options={"top_k": 40.0, "num_ctx": 8192})
    assert whole.message.content == "hello there world" and whole.model == "default"
    assert (whole.done, whole.done_reason) == (True, "stop")
    assert (whole.prompt_eval_count, whole.eval_count) == (3, 3)
    assert echo.requests[-1].top_k == 40
    parts = [part async for part in await client.chat("echo:latest", CHAT, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == "hello there world"
    assert [p.done for p in parts] == [False, False, False, True]
    assert parts[-1].eval_count == 3 and (parts[-1].total_duration or 0) > 0
    limited = await client.chat("echo", CHAT, options={"num_predict": 2})
    assert (limited.message.content, limited.done_reason) == ("hello there", "length")
    assert echo.requests[-1].max_tokens == 2
    unlimited = await client.chat("echo", CHAT, options={"num_predict": -1})
    assert unlimited.message.content == "hello there world"


async def test_generate_renders_a_user_turn_and_raw_is_text(
        client: ollama.AsyncClient, echo: EchoWithExtras) -> None:
    reply = await client.generate("echo", "one two", system="be brief")
    assert reply.response == "one two" and reply.context == []
    sent = echo.requests[-1].messages
    assert sent is not None and [(m.role, m.content) for m in sent] == [
        ("system", "be brief"), ("user", "one two")]
    raw = await client.generate("echo", "three four", raw=True)
    assert raw.response == "three four" and echo.requests[-1].prompt == "three four"
    streamed = [p async for p in await client.generate("echo", "a b", stream=True)]
    assert "".join(p.response or "" for p in streamed) == "a b" and streamed[-1].done


async def test_an_empty_prompt_loads_and_keep_alive_0_unloads(
        client: ollama.AsyncClient, echo: EchoWithExtras) -> None:
    loaded = await client.generate("echo")
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    assert echo.loads == ["echo"] and [m.model for m in (await client.ps()).models] == [
        "echo:latest"]
    unloaded = await client.generate("echo", keep_alive=0)
    assert unloaded.done_reason == "unload" and echo.unloads == ["echo"]
    assert (await client.ps()).models == []
    chat_load = await client.chat("echo", [])
    assert chat_load.done_reason == "load" and chat_load.message.role == "assistant"


async def test_nulls_mean_the_defaults_as_in_ollama(http: httpx.AsyncClient) -> None:
    streamed = await http.post("/api/generate", json={
        "model": "echo", "prompt": "a b", "stream": None, "raw": None, "options": None,
        "format": None, "think": None, "keep_alive": None, "images": None})
    assert streamed.headers["content-type"] == "application/x-ndjson"
    assert json.loads(streamed.text.splitlines()[-1])["done"] is True
    loads = await http.post("/api/chat", json={"model": "echo", "messages": None})
    assert loads.json()["done_reason"] == "load"


async def test_ps_shows_when_a_model_expires(client: ollama.AsyncClient) -> None:
    await client.chat("echo", CHAT, keep_alive="10m")
    (model,) = (await client.ps()).models
    assert model.expires_at is not None and model.size_vram == 0
    await client.chat("echo", CHAT, keep_alive=-5)
    (forever,) = (await client.ps()).models
    assert forever.expires_at is not None and forever.expires_at.year > 2200
    assert forever.expires_at > model.expires_at


async def test_embed_and_embeddings(client: ollama.AsyncClient) -> None:
    out = await client.embed("echo", ["ab", "abcd"])
    assert out.embeddings == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]
    assert out.prompt_eval_count == 2 and out.model == "echo"
    short = await client.embed("echo", "abc", dimensions=2)
    assert short.embeddings[0] == pytest.approx([3 / math.sqrt(10), 1 / math.sqrt(10)])
    assert (await client.embed("echo", "")).embeddings == []
    assert (await client.embeddings("echo", "abc")).embedding == [3.0, 1.0, 0.0]


async def test_errors_in_ollamas_shape(http: httpx.AsyncClient,
                                       client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        await client.chat("llama3.2", CHAT)
    assert missing.value.status_code == 404
    assert missing.value.error.startswith('model "llama3.2" not found')
    assert "echo" in missing.value.error
    cases = [
        ({"model": "echo", "messages": CHAT, "options": {"temperature": -1}},
         "options.temperature"),
        ({"model": "echo", "messages": CHAT, "keep_alive": "soon"}, "keep_alive"),
        ({"model": "echo", "messages": CHAT, "think": "extreme"}, "think"),
        ({"model": "echo", "messages": CHAT, "format": "yaml"}, "format"),
        ({"model": "echo", "messages": CHAT, "format": {"type": "nonsense"}}, "format"),
        ({"messages": CHAT}, "model"),
        ({"model": "echo", "messages": [{"role": "wizard", "content": "x"}]},
         "messages[0].role"),
        ({"model": "echo", "messages": [{"role": "user", "content": "x",
                                          "images": ["aGk="]}]}, "images"),
    ]
    for body, where in cases:
        message = ollama_error(await http.post("/api/chat", json=body), 400)
        assert where in message, (body, message)
    message = ollama_error(await http.post("/api/generate", json={
        "model": "echo", "prompt": "x", "images": ["aGk="]}), 400)
    assert "text only" in message
    ollama_error(await http.post("/api/generate", json={
        "model": "echo", "prompt": "x", "raw": True, "system": "s"}), 400)
    ollama_error(await http.post("/api/show", json={}), 400)
    curl_style = await http.post("/api/show", content=b'{"model": "echo"}', headers={
        "content-type": "application/x-www-form-urlencoded"})  # what curl -d sends
    assert curl_style.json()["capabilities"] == ["completion", "embedding"]
    ollama_error(await http.post("/api/chat", content=b"{nope",
                                 headers={"content-type": "application/json"}), 400)


async def test_an_embedding_the_backend_cannot_make_is_400(tmp_path: Path) -> None:
    from tests.fakes import EchoBackend

    (tmp_path / "m.bin").write_bytes(b"x")
    cfg = {"models": {"plain": {"backend": "echo", "path": str(tmp_path / "m.bin")}}}
    async with Hoshikage(cfg, plugins={"echo": EchoBackend()}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for path, body in (("/api/embed", {"input": "a"}), ("/api/embeddings", {})):
                response = await http.post(path, json={"model": "plain", **body})
                assert "cannot make embeddings" in ollama_error(response, 400)
            shown = (await http.post("/api/show", json={"name": "plain"})).json()
            assert shown["capabilities"] == ["completion"]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/pull"), ("POST", "/api/push"), ("POST", "/api/create"),
    ("DELETE", "/api/delete"), ("POST", "/api/copy"), ("POST", "/api/blobs/sha256:ab")])
async def test_model_management_is_refused_clearly(http: httpx.AsyncClient, method: str,
                                                   path: str) -> None:
    response = await http.request(method, path, json={"model": "echo"})
    assert "hoshikage.toml" in ollama_error(response, 400)


async def test_a_failure_mid_stream_is_an_error_line(http: httpx.AsyncClient,
                                                     echo: EchoWithExtras,
                                                     client: ollama.AsyncClient) -> None:
    echo.fail_after = 1
    response = await http.post("/api/chat", json={"model": "echo", "messages": CHAT})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0]["message"]["content"] == "hello" and lines[0]["done"] is False
    assert set(lines[-1]) == {"error"} and len(lines) == 2
    with pytest.raises(ollama.ResponseError):
        async for _ in await client.chat("echo", CHAT, stream=True):
            pass


def test_keep_alive_reads_as_ollama_does() -> None:
    assert keep_alive_seconds("5m") == 300 and keep_alive_seconds(90) == 90
    assert keep_alive_seconds(0) == 0 and keep_alive_seconds("0") == 0
    assert keep_alive_seconds(-1) == keep_alive_seconds(-0.5) == math.inf
    assert keep_alive_seconds("-1m") == keep_alive_seconds("-1") == math.inf
    assert keep_alive_seconds(None) is None
    with pytest.raises(ValueError):
        keep_alive_seconds("later")
    with pytest.raises(ValueError):
        keep_alive_seconds(True)


def test_think_and_options_become_chat_fields() -> None:
    assert think_fields(None) == {}
    assert think_fields(False) == {"reasoning_effort": "none"}
    assert think_fields(True) == {"chat_template_kwargs": {"enable_thinking": True}}
    assert think_fields("max")["reasoning_effort"] == "high"
    sampling = Options.model_validate({"num_predict": -2, "seed": -1, "stop": "x",
                                       "mirostat": 2, "top_p": 0.5}).sampling("t")
    assert (sampling.max_tokens, sampling.seed, sampling.stop, sampling.top_p) == (
        None, None, ("x",), 0.5)


def test_tool_turns_answer_the_calls_they_name() -> None:
    messages = [MessageIn.model_validate(m) for m in [
        {"role": "USER", "content": "weather?"},
        {"role": "assistant", "tool_calls": [
            {"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
            {"function": {"name": "time", "arguments": {}}}]},
        {"role": "tool", "tool_name": "time", "content": "noon"},
        {"role": "tool", "content": "rain"}]]
    user, assistant, time_turn, weather_turn = conversation(messages)
    assert user.role == "user"
    assert assistant.tool_calls is not None
    ids = [c["id"] for c in assistant.tool_calls]
    assert json.loads(assistant.tool_calls[0]["function"]["arguments"]) == {"city": "Oslo"}
    assert (time_turn.tool_call_id, time_turn.name) == (ids[1], "time")
    assert (weather_turn.tool_call_id, weather_turn.name) == (ids[0], "weather")


def test_a_reply_folds_thinking_calls_and_counts() -> None:
    reply = Reply("m", Timing(), chat=True)
    lines = []
    for event in [ChoiceStart(0), ReasoningDelta(0, "hmm"), TextDelta(0, "ok"),
                  ToolCallStart(0, 0, "call_1", "weather"),
                  ToolCallArguments(0, 0, '{"city": "Oslo"}'),
                  ChoiceEnd(0, "tool_calls", Usage(5, 7)), StreamEnd(Usage(5, 7))]:
        lines += reply.feed(event)
    assert [line["done"] for line in lines] == [False, False, False, True]
    assert lines[0]["message"] == {"role": "assistant", "content": "", "thinking": "hmm"}
    assert lines[2]["message"]["tool_calls"] == [
        {"id": "call_1", "function": {"index": 0, "name": "weather",
                                      "arguments": {"city": "Oslo"}}}]
    whole = reply.whole()
    assert whole["message"]["content"] == "ok" and whole["message"]["thinking"] == "hmm"
    assert whole["done_reason"] == "stop"  # Ollama's reason for an answer that calls
    assert (whole["prompt_eval_count"], whole["eval_count"]) == (5, 7)
    assert tagged("a") == "a:latest" and tagged("a:7b") == "a:7b"


def test_file_facts_come_from_the_gguf_header(tmp_path: Path) -> None:
    from hoshikage_core.api.ollama.facts import (
        FactsCache,
        TemplateFacts,
        configured_template,
        read_facts,
    )
    from hoshikage_core.testing.tiny_gguf import write_tiny_gguf
    from tests.serving.families import FAMILIES
    from tests.serving.test_reasoning import OPENS_THINK

    path = write_tiny_gguf(tmp_path / "t.gguf", chat_template=FAMILIES["hermes"],
                           fill_in_the_middle=True)
    facts = read_facts(path, "t")
    assert facts.details() == {"parent_model": "", "format": "gguf", "family": "llama",
                               "families": ["llama"], "parameter_size": "",
                               "quantization_level": "F32"}
    assert facts.size == path.stat().st_size and facts.fill_in_the_middle
    assert facts.context_length == 512 and facts.metadata["llama.block_count"] == 2
    assert "tokenizer.chat_template" not in facts.metadata
    assert facts.metadata["tokenizer.ggml.tokens"] == []  # long arrays shown empty
    cache = FactsCache()
    assert cache.file(path, "t") is cache.file(path, "t")  # read once while unchanged
    hermes = configured_template({}, facts)
    assert hermes is not None and hermes.source == FAMILIES["hermes"]
    shown = cache.template(hermes)
    assert shown is not None and (shown.tools, shown.thinking) == (True, False)
    thinker = configured_template({"chat_template": OPENS_THINK}, facts)  # options win
    assert thinker is not None and cache.template(thinker) == TemplateFacts(False, True)
    named = configured_template({"chat_format": "chatml"}, facts)
    assert named is not None and "<|im_start|>" in named.source
    assert read_facts(tmp_path / "missing.gguf", "m").size == 0


async def test_a_name_with_latest_is_found_either_way(tmp_path: Path,
                                                      echo: EchoWithExtras) -> None:
    """A discovered Ollama model is named ``qwen2.5:latest``; clients often send ``qwen2.5``
    (and for a configured ``echo``, ``echo:latest``)."""
    from hoshikage_core.api.ollama.names import resolve
    from hoshikage_core.errors import ModelNotFoundError

    (tmp_path / "m.bin").write_bytes(b"x")
    models = {name: {"backend": "echo", "path": str(tmp_path / "m.bin")}
              for name in ("qwen2.5:latest", "echo")}
    async with Hoshikage({"models": models}, plugins={"echo": echo}) as hk:
        assert resolve(hk, "qwen2.5") == "qwen2.5:latest"
        assert resolve(hk, "echo:latest") == "echo"
        with pytest.raises(ModelNotFoundError):
            resolve(hk, "qwen2.5:7b")
