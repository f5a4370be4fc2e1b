"""One test per hook, named ``test_hook_<hook>`` (datasette's convention): each drives
its hook through the real dispatch (a Hoshikage, over HTTP where the hook serves an
endpoint) and checks what the hook's answer did. ``tests/test_docs.py`` fails when a
hookspec has no such test here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hoshikage_core import (
    Chunk,
    ConfigError,
    GenerationRequest,
    Hoshikage,
    ModelSpec,
    Usage,
    create_app,
    hookimpl,
)
from hoshikage_core.errors import BackendUnavailableError, InvalidRequestError, ModelTooLargeError
from hoshikage_core.types import Embeddings, Relevance


@dataclass
class Handle:
    name: str
    options: dict[str, Any]


@dataclass(eq=False)
class Recorder:
    """A backend implementing every hook, recording what each one was given."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    unavailable: str | None = None
    estimate: int | None = 1234
    renders_chats: bool = True

    def seen(self, hook: str) -> list[Any]:
        return [args for name, args in self.calls if name == hook]

    @hookimpl
    def hoshikage_load(self, model: ModelSpec, progress: Any) -> Handle:
        progress(0.5)
        self.calls.append(("load", model))
        return Handle(model.name, dict(model.options))

    @hookimpl
    def hoshikage_generate(self, handle: Handle, request: GenerationRequest) -> Iterator[Chunk]:
        self.calls.append(("generate", (handle, request)))
        yield Chunk(text="one")
        yield Chunk(text=" two", finish_reason="stop", usage=Usage(3, 2))

    @hookimpl
    def hoshikage_unload(self, handle: Handle) -> None:
        self.calls.append(("unload", handle))

    @hookimpl
    def hoshikage_embed(self, handle: Handle, inputs: list[Any]) -> Embeddings:
        self.calls.append(("embed", inputs))
        return Embeddings(vectors=[[float(len(str(i))), 0.0] for i in inputs], prompt_tokens=7)

    @hookimpl
    def hoshikage_rerank(self, handle: Handle, query: str, documents: list[str]) -> Relevance:
        self.calls.append(("rerank", (query, documents)))
        return Relevance(scores=[float(len(d)) for d in documents], prompt_tokens=9)

    @hookimpl
    def hoshikage_tokenize(self, handle: Handle, text: str, add_special: bool) -> list[int]:
        self.calls.append(("tokenize", (text, add_special)))
        return [len(word) for word in text.split()]

    @hookimpl
    def hoshikage_detokenize(self, handle: Handle, tokens: list[int]) -> str:
        if any(t < 0 for t in tokens):
            raise ValueError("negative token ids")
        return "-".join(str(t) for t in tokens)

    @hookimpl
    def hoshikage_supported_fields(self) -> frozenset[str]:
        return frozenset({"top_k"})

    @hookimpl
    def hoshikage_validate_options(self, model: ModelSpec) -> dict[str, Any]:
        unknown = set(model.options) - {"size"}
        if unknown:
            raise ValueError(f"unknown option {sorted(unknown)[0]!r}")
        return dict(model.options)

    @hookimpl
    def hoshikage_estimate_memory(self, model: ModelSpec) -> int | None:
        self.calls.append(("estimate", model.name))
        return self.estimate

    @hookimpl
    def hoshikage_unavailable_reason(self) -> str | None:
        return self.unavailable

    @hookimpl
    def hoshikage_chat_template(self, handle: Handle) -> Any:
        if not self.renders_chats:
            return None
        from hoshikage_core.kit.templates import ChatTemplate

        self.calls.append(("chat_template", handle))
        return ChatTemplate("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n"
                            "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
                            "{% if greeting %} {{ greeting }}{% endif %}")

    @hookimpl
    def hoshikage_engine(self, context: Any) -> Any:
        """This process's own model manager, as an engine plugin would build its own."""
        from hoshikage_core.lifecycle import ModelManager

        self.calls.append(("engine", context))
        return ModelManager(context.config, context.plugins, context.executor,
                            context.clock, context.metrics, context.options)


def config(tmp_path: Path, **defaults: Any) -> dict[str, Any]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x" * 10)
    return {"defaults": defaults,
            "models": {"m": {"backend": "rec", "path": str(model_file), "parallel": 2,
                             "options": {"size": 3}}}}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    recorder = Recorder()
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, recorder


async def test_hook_hoshikage_load(tmp_path: Path) -> None:
    recorder = Recorder()
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        progress: list[float | None] = []
        hk.watch_loads(lambda event: progress.append(event.progress))
        info = await hk.models.load("m")
    (spec,) = recorder.seen("load")
    assert (spec.name, spec.options, spec.parallel) == ("m", {"size": 3}, 2)
    assert spec.path == tmp_path / "m.bin"
    assert info.state.value == "ready" and 0.5 in progress


async def test_hook_hoshikage_generate(tmp_path: Path) -> None:
    recorder = Recorder()
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        result = await hk.complete("Hi", model="m", max_tokens=5, stop=["x"])
    ((handle, request),) = recorder.seen("generate")
    assert handle == Handle("m", {"size": 3})  # the handle its load returned
    assert (request.prompt, request.max_tokens, list(request.stop)) == ("Hi", 5, ["x"])
    assert (result.text, result.finish_reason, result.usage) == ("one two", "stop", Usage(3, 2))


async def test_hook_hoshikage_unload(tmp_path: Path) -> None:
    recorder = Recorder()
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        await hk.models.load("m")
        assert recorder.seen("unload") == []
        info = await hk.models.unload("m")
    assert recorder.seen("unload") == [Handle("m", {"size": 3})]
    assert info.state.value == "unloaded"


async def test_hook_hoshikage_embed(http: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, recorder = http
    reply = (await client.post("/v1/embeddings", json={"model": "m",
                                                        "input": ["ab", "abcd"]})).json()
    assert [d["embedding"] for d in reply["data"]] == [[2.0, 0.0], [4.0, 0.0]]
    assert reply["usage"]["prompt_tokens"] == 7
    assert recorder.seen("embed") == [["ab", "abcd"]]


async def test_hook_hoshikage_rerank(http: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, recorder = http
    reply = (await client.post("/v1/rerank", json={
        "model": "m", "query": "q", "documents": ["ab", {"text": "abcd"}, "a"], "top_n": 2,
        "return_documents": True})).json()
    assert reply["results"] == [{"index": 1, "relevance_score": 4.0, "document": {"text": "abcd"}},
                                {"index": 0, "relevance_score": 2.0, "document": {"text": "ab"}}]
    assert reply["usage"] == {"prompt_tokens": 9, "total_tokens": 9}
    assert recorder.seen("rerank") == [("q", ["ab", "abcd", "a"])]


async def test_hook_hoshikage_tokenize(http: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, recorder = http
    reply = await client.post("/tokenize", json={"model": "m", "content": "a bcd ef",
                                                  "add_special": False})
    assert reply.json() == {"tokens": [1, 3, 2]}
    assert recorder.seen("tokenize") == [("a bcd ef", False)]


async def test_hook_hoshikage_detokenize(http: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, _ = http
    reply = await client.post("/detokenize", json={"model": "m", "tokens": [4, 5]})
    assert reply.json()["content"] == "4-5"
    refused = await client.post("/detokenize", json={"model": "m", "tokens": [-1]})
    assert refused.status_code == 400 and "negative token ids" in refused.text


async def test_hook_hoshikage_supported_fields(tmp_path: Path) -> None:
    recorder = Recorder()
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        await hk.complete("Hi", model="m", top_k=3)  # declared: passed on
        with pytest.raises(InvalidRequestError) as refused:
            await hk.complete("Hi", model="m", min_p=0.1)  # not declared: refused
    assert refused.value.param == "min_p"
    assert [request.top_k for _, request in recorder.seen("generate")] == [3]


def test_hook_hoshikage_validate_options(tmp_path: Path) -> None:
    bad = config(tmp_path)
    bad["models"]["m"]["options"] = {"sise": 3}
    with pytest.raises(ConfigError) as error:
        Hoshikage(bad, plugins={"rec": Recorder()})
    assert "models.m.options" in str(error.value) and "'sise'" in str(error.value)
    Hoshikage(config(tmp_path), plugins={"rec": Recorder()})  # a good one starts


async def test_hook_hoshikage_estimate_memory(tmp_path: Path) -> None:
    recorder = Recorder(estimate=5000)
    async with Hoshikage(config(tmp_path, memory_budget=4000),
                         plugins={"rec": recorder}) as hk:
        with pytest.raises(ModelTooLargeError):
            await hk.complete("Hi", model="m")
        assert hk.list_models()[0].memory_bytes == 5000
    assert recorder.seen("load") == []  # refused before any load was tried
    recorder = Recorder(estimate=None)  # no estimate: the file's size stands in
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        await hk.models.load("m")
        assert hk.list_models()[0].memory_bytes == 10


async def test_hook_hoshikage_unavailable_reason(tmp_path: Path) -> None:
    recorder = Recorder(unavailable="the rec library is missing: pip install rec")
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        with pytest.raises(BackendUnavailableError) as error:
            await hk.complete("Hi", model="m")
        described = {p.name: p.unavailable for p in hk.plugins.describe()}
    assert error.value.status_code == 503
    assert "pip install rec" in error.value.message
    assert described["rec"] == "the rec library is missing: pip install rec"


async def test_hook_hoshikage_chat_template(tmp_path: Path) -> None:
    recorder = Recorder()
    cfg = config(tmp_path)
    cfg["models"]["m"]["chat_template_kwargs"] = {"greeting": "hi"}
    async with Hoshikage(cfg, plugins={"rec": recorder}) as hk:
        result = await hk.chat([{"role": "user", "content": "Hello"}], model="m")
        again = await hk.chat([{"role": "user", "content": "Again"}], model="m")
        transport = httpx.ASGITransport(app=create_app(hk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            shown = (await client.post("/apply-template", json={
                "model": "m", "messages": [{"role": "user", "content": "x"}],
                "chat_template_kwargs": {"greeting": "yo"}})).json()
    (_, first), (_, second) = recorder.seen("generate")
    assert first.chat_prompt == "[user] Hello\n[assistant] hi" and first.messages is None
    assert second.chat_prompt == "[user] Again\n[assistant] hi"
    assert len(recorder.seen("chat_template")) == 1  # asked once per load, not per request
    assert result.text == again.text == "one two"
    assert shown == {"prompt": "[user] x\n[assistant] yo"}
    recorder = Recorder(renders_chats=False)  # None: the backend renders chats itself
    async with Hoshikage(config(tmp_path), plugins={"rec": recorder}) as hk:
        await hk.chat([{"role": "user", "content": "Hello"}], model="m")
    ((_, request),) = recorder.seen("generate")
    assert request.chat_prompt is None and request.messages[0].content == "Hello"


async def test_hook_hoshikage_engine(tmp_path: Path) -> None:
    from hoshikage_core.lifecycle import ModelManager

    recorder = Recorder()
    async with Hoshikage({**config(tmp_path), "cluster": {"engine": "rec"}},
                         plugins={"rec": recorder}) as hk:
        (context,) = recorder.seen("engine")
        assert isinstance(hk.models, ModelManager)  # what the hook built runs the models
        assert context.config is hk.config and context.options == {"m": {"size": 3}}
        assert (await hk.complete("x", model="m")).text == "one two"
    with pytest.raises(ConfigError, match="cluster.engine: .*'nope'"):
        Hoshikage({**config(tmp_path), "cluster": {"engine": "nope"}},
                  plugins={"rec": Recorder()})
