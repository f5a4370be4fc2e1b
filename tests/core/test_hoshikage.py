"""The embeddable object over a scripted backend: routing, lazy load, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoshikage_core import GenerationRequest, Hoshikage
from hoshikage_core.errors import (
    BackendUnavailableError,
    ContextLengthExceededError,
    ModelLoadError,
    ModelNotFoundError,
)
from hoshikage_core.lifecycle import ModelState
from tests.fakes import EchoBackend


def config(tmp_path: Path, *names: str, backend: str = "echo") -> dict[str, object]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    return {
        "models": {
            name: {"backend": backend, "path": str(model_file), "aliases": [f"{name}-alias"]}
            for name in names
        }
    }


async def test_lazy_load_on_first_use_and_alias_routing(tmp_path: Path) -> None:
    echo = EchoBackend()
    async with Hoshikage(config(tmp_path, "a", "b"), plugins={"echo": echo}) as hk:
        assert [m.state for m in hk.list_models()] == [ModelState.UNLOADED] * 2
        assert echo.loads == []
        result = await hk.complete("one two three", model="b-alias")
        assert (result.model, result.text, result.finish_reason) == ("b", "one two three", "stop")
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 3)
        assert echo.loads == ["b"]
        states = {m.id: m.state for m in hk.list_models()}
        assert states == {"a": ModelState.UNLOADED, "b": ModelState.READY}
        await hk.complete("again", model="b")
        assert echo.loads == ["b"]  # loaded once
    assert echo.unloads == ["b"]  # closing unloads


async def test_backend_work_runs_off_the_event_loop(tmp_path: Path) -> None:
    import threading

    echo = EchoBackend()
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": echo}) as hk:
        await hk.chat([{"role": "user", "content": "hi there"}], model="a")
    assert echo.threads and threading.current_thread().name not in echo.threads


async def test_unknown_model_is_404_never_a_fallback(tmp_path: Path) -> None:
    echo = EchoBackend()
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": echo}) as hk:
        with pytest.raises(ModelNotFoundError) as info:
            await hk.complete("x", model="gpt-4")
        assert info.value.status_code == 404 and info.value.code == "model_not_found"
    assert echo.loads == []


async def test_failed_load_is_isolated(tmp_path: Path) -> None:
    echo = EchoBackend(fail_load={"bad"})
    async with Hoshikage(config(tmp_path, "bad", "good"), plugins={"echo": echo}) as hk:
        with pytest.raises(ModelLoadError, match="file is corrupt"):
            await hk.complete("x", model="bad")
        states = {m.id: (m.state, m.error) for m in hk.list_models()}
        assert states["bad"][0] is ModelState.FAILED and "corrupt" in (states["bad"][1] or "")
        assert (await hk.complete("still fine", model="good")).text == "still fine"


async def test_client_errors_from_the_backend_pass_through(tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": EchoBackend()}) as hk:
        with pytest.raises(ContextLengthExceededError) as info:
            await hk.complete("w " * 60, model="a")
        assert info.value.status_code == 400


async def test_max_tokens_gives_length(tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": EchoBackend()}) as hk:
        result = await hk.complete("a b c d", model="a", max_tokens=2)
        assert (result.text, result.finish_reason, result.usage.completion_tokens) == (
            "a b", "length", 2)


async def test_closing_a_stream_early_closes_the_backend_generator(tmp_path: Path) -> None:
    echo = EchoBackend()
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": echo}) as hk:
        stream = hk.generate(GenerationRequest(model="a", prompt="a b c d e f"))
        async for chunk in stream:
            assert chunk.text == "a"
            break
        await stream.aclose()
        assert echo.handles[0].closed_generations == 1
        # the slot was freed: the next request runs
        assert (await hk.complete("next", model="a")).text == "next"


async def test_unavailable_backend_answers_503_and_startup_still_works(tmp_path: Path) -> None:
    class NotHere(EchoBackend):
        from hoshikage_core import hookimpl

        @hookimpl
        def hoshikage_unavailable_reason(self) -> str:
            return "libfoo is not installed: pip install foo"

    cfg = config(tmp_path, "a")
    cfg["models"]["b"] = {"backend": "other", "path": str(tmp_path / "m.bin")}  # type: ignore[index]
    async with Hoshikage(cfg, plugins={"echo": NotHere(), "other": EchoBackend()}) as hk:
        with pytest.raises(BackendUnavailableError, match="pip install foo") as info:
            await hk.complete("x", model="a")
        assert info.value.status_code == 503
        assert (await hk.complete("ok", model="b")).text == "ok"


async def test_two_instances_do_not_interfere(tmp_path: Path) -> None:
    one, two = EchoBackend(), EchoBackend()
    async with Hoshikage(config(tmp_path, "a"), plugins={"echo": one}) as hk1:
        async with Hoshikage(config(tmp_path, "a"), plugins={"echo": two}) as hk2:
            await hk1.complete("x", model="a")
            assert [m.state for m in hk2.list_models()] == [ModelState.UNLOADED]
            assert two.loads == []


def test_backend_validates_its_options_at_startup(tmp_path: Path) -> None:
    from hoshikage_core import BackendOptions, ConfigError, ModelSpec, hookimpl, parse_options

    class Opts(BackendOptions):
        depth: int = 1

    class Picky(EchoBackend):
        @hookimpl
        def hoshikage_validate_options(self, model: ModelSpec) -> Opts:
            return parse_options(Opts, model)

    cfg = config(tmp_path, "a")
    cfg["models"]["a"]["options"] = {"dpeth": 2}  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        Hoshikage(cfg, plugins={"echo": Picky()})
    assert "models.a.options.dpeth: unknown key (did you mean 'depth'?)" in str(info.value)
    cfg["models"]["a"]["options"] = {"depth": 2}  # type: ignore[index]
    Hoshikage(cfg, plugins={"echo": Picky()})


async def test_model_sampling_defaults_fill_what_the_request_left_out(tmp_path: Path) -> None:
    echo = EchoBackend()
    cfg = config(tmp_path, "a")
    cfg["models"]["a"]["sampling"] = {"temperature": 0.2, "top_p": 0.9,  # type: ignore[index]
                                      "max_tokens": 2}
    async with Hoshikage(cfg, plugins={"echo": echo}) as hk:
        first = await hk.complete("a b c d", model="a-alias")
        await hk.complete("a b c d", model="a", temperature=1.0, max_tokens=3)
    assert first.text == "a b"  # max_tokens default applied
    one, two = echo.requests
    assert (one.model, one.temperature, one.top_p, one.max_tokens) == ("a", 0.2, 0.9, 2)
    assert (two.temperature, two.top_p, two.max_tokens) == (1.0, 0.9, 3)
    assert one.top_k is None  # not configured: the backend's default


async def test_fields_a_backend_does_not_declare_are_refused(tmp_path: Path) -> None:
    from hoshikage_core import Chunk, InvalidRequestError, Usage, hookimpl

    class Basic:
        @hookimpl
        def hoshikage_load(self, model: object) -> str:
            return "handle"

        @hookimpl
        def hoshikage_generate(self, handle: object, request: GenerationRequest) -> list[Chunk]:
            return [Chunk("ok", finish_reason="stop", usage=Usage(1, 1))]

        @hookimpl
        def hoshikage_unload(self, handle: object) -> None: ...

    async with Hoshikage(config(tmp_path, "a", backend="basic"), plugins={"basic": Basic()},
                         load_entry_points=False) as hk:
        assert (await hk.complete("x", model="a", temperature=0.5, seed=1)).text == "ok"
        for field, param in [({"logprobs": 1}, "logprobs"),
                             ({"json_schema": {"type": "object"}}, "response_format"),
                             ({"logit_bias": {1: 2.0}}, "logit_bias"), ({"top_k": 3}, "top_k")]:
            with pytest.raises(InvalidRequestError) as info:
                await hk.run(GenerationRequest(model="a", prompt="x", **field))  # type: ignore[arg-type]
            assert info.value.param == param and "does not support" in info.value.message
        assert hk.list_models()[0].state.value == "ready"  # refused before the backend
