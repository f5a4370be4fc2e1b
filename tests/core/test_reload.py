"""``Hoshikage.reload``: unchanged models keep running, changed ones reload once their
running requests finish, removed ones drain and go, new ones are served at once, an
invalid config changes nothing. Fake clock and scripted backend, as test_lifecycle.py;
the watcher on the fake clock too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hoshikage_core.errors import ConfigError, ModelNotFoundError
from hoshikage_core.testing.clock import FakeClock
from tests.core.lifecycle_kit import build, complete, eventually, hold, states
from tests.fakes import EchoBackend


def config(tmp_path: Path, models: dict[str, dict[str, Any]], **defaults: Any
           ) -> dict[str, Any]:
    return build(tmp_path, models, **defaults)


async def test_unchanged_models_keep_their_weights_and_take_new_settings(
        make: Any, echo: EchoBackend, clock: FakeClock, tmp_path: Path) -> None:
    hk = await make({"a": {}, "b": {}}, idle_timeout="10m")
    await complete(hk, "a")
    report = await hk.reload(config(tmp_path, {
        "a": {"aliases": ["default"], "idle_timeout": "1m", "sampling": {"temperature": 0}},
        "b": {}}, idle_timeout="10m"))
    assert report.models.updated == ("a",) and report.models.unchanged == ("b",)
    assert report.models.reloaded == () and report.restart_needed == ()
    assert echo.loads == ["a"] and echo.unloads == [] and states(hk)["a"] == "ready"
    assert hk.canonical_name("default") == "a"
    await clock.advance(61)  # the new idle timeout, counted from the reload
    await eventually(lambda: states(hk)["a"] == "unloaded")


async def test_unpinned_by_a_reload_an_idle_model_starts_its_idle_timer(
        make: Any, clock: FakeClock, tmp_path: Path) -> None:
    hk = await make({"a": {"pinned": True}}, idle_timeout="1m")
    await complete(hk, "a")
    assert hk.get("a").expires_at is None
    report = await hk.reload(config(tmp_path, {"a": {}}, idle_timeout="1m"))
    assert report.models.updated == ("a",) and not hk.get("a").pinned
    await clock.advance(61)
    await eventually(lambda: states(hk)["a"] == "unloaded")


async def test_a_changed_model_reloads_once_its_running_request_ends(
        make: Any, echo: EchoBackend, tmp_path: Path) -> None:
    hk = await make({"a": {"options": {"memory": 100}}}, idle_timeout=-1)
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "a", "one two"))
    await eventually(lambda: echo.started == ["one two"])
    report = await hk.reload(config(tmp_path, {"a": {"options": {"memory": 200}}},
                                    idle_timeout=-1))
    assert report.models.reloaded == ("a",)
    queued = asyncio.ensure_future(complete(hk, "a", "three"))
    await asyncio.sleep(0.05)
    assert echo.unloads == [] and not queued.done()  # nothing running is cut
    turnstile.release()
    assert (await running).choices[0].text == "one two"  # finished on the old weights
    turnstile.release()
    assert (await queued).choices[0].text == "three"
    assert echo.loads == ["a", "a"] and echo.unloads == ["a"]
    assert hk.get("a").memory_bytes == 200  # the new settings' estimate


async def test_a_model_file_replaced_on_disk_is_reloaded(
        make: Any, echo: EchoBackend, tmp_path: Path) -> None:
    hk = await make({"a": {}, "b": {}})
    await complete(hk, "a")
    same = config(tmp_path, {"a": {}, "b": {}})
    assert (await hk.reload(same)).models.unchanged == ("a", "b")
    (tmp_path / "m.bin").write_bytes(b"a newer download")  # both models' file
    report = await hk.reload(same)
    assert report.models.reloaded == ("a",)  # b never loaded: its next load reads it anew
    await eventually(lambda: echo.unloads == ["a"])
    await complete(hk, "a")
    assert echo.loads == ["a", "a"] and hk.get("a").memory_bytes == len(b"a newer download")


async def test_a_removed_model_finishes_its_requests_then_goes(
        make: Any, echo: EchoBackend, tmp_path: Path) -> None:
    hk = await make({"a": {}, "b": {}}, idle_timeout=-1)
    turnstile = hold(echo)
    running = asyncio.ensure_future(complete(hk, "b", "still going"))
    await eventually(lambda: echo.started == ["still going"])
    report = await hk.reload(config(tmp_path, {"a": {}, "c": {}}, idle_timeout=-1))
    assert report.models.removed == ("b",) and report.models.added == ("c",)
    with pytest.raises(ModelNotFoundError):
        await complete(hk, "b")  # unknown to new requests at once
    assert [m.id for m in hk.list_models()] == ["a", "c"]
    draining = {m.id: m for m in hk.list_models(include_removed=True)}["b"]
    assert draining.removed and draining.running == 1
    turnstile.release()
    assert (await running).choices[0].text == "still going"
    await eventually(lambda: echo.unloads == ["b"])
    await eventually(lambda: "b" not in {m.id for m in hk.list_models(include_removed=True)})
    turnstile.release()
    assert (await complete(hk, "c", "new")).choices[0].text == "new"


async def test_an_invalid_config_changes_nothing(make: Any, echo: EchoBackend,
                                                 tmp_path: Path) -> None:
    hk = await make({"a": {}})
    await complete(hk, "a")
    bad = config(tmp_path, {"a": {"parallel": 0}, "b": {}})
    with pytest.raises(ConfigError) as refused:
        await hk.reload(bad)
    assert "models.a.parallel" in str(refused.value)
    with pytest.raises(ConfigError) as unknown:
        await hk.reload(config(tmp_path, {"a": {"backend": "nope"}}))
    assert "models.a.backend: no backend named 'nope'" in str(unknown.value)
    assert [m.id for m in hk.list_models()] == ["a"] and states(hk)["a"] == "ready"
    assert echo.loads == ["a"]


async def test_server_tables_wait_for_a_restart(make: Any, tmp_path: Path) -> None:
    hk = await make({"a": {}})
    new = config(tmp_path, {"a": {}})
    new["server"] = {"port": 9999}
    report = await hk.reload(new)
    assert report.restart_needed == ("server",) and hk.config.server.port == 3030
    assert "needs a restart for [server]" in report.summary()


async def test_a_reload_without_a_file_says_so(make: Any, tmp_path: Path) -> None:
    from hoshikage_core import Hoshikage
    from hoshikage_core.config import validate_config

    hk = Hoshikage(validate_config(config(tmp_path, {"a": {}})), load_entry_points=False,
                   plugins={"echo": EchoBackend()})
    with pytest.raises(ConfigError, match="not started from a config file"):
        await hk.reload()
    await hk.aclose()


async def test_a_config_given_as_a_mapping_is_read_again(tmp_path: Path,
                                                         echo: EchoBackend) -> None:
    from hoshikage_core import Hoshikage
    from hoshikage_core.testing.tiny_gguf import write_tiny_gguf

    (tmp_path / "models").mkdir()
    mapping = {"discovery": {"dirs": [str(tmp_path / "models")], "backend": "echo"}}
    async with Hoshikage(mapping, plugins={"echo": echo}) as hk:
        assert hk.list_models() == []
        write_tiny_gguf(tmp_path / "models" / "new.gguf")
        assert (await hk.reload()).models.added == ("new",)  # the folder, scanned again
        assert (await complete(hk, "new", "served")).choices[0].text == "served"
        assert hk.get("new").origin.kind == "dir"


async def test_the_watcher_reloads_once_a_change_holds_still(
        tmp_path: Path, clock: FakeClock, echo: EchoBackend) -> None:
    from hoshikage_core import Hoshikage

    toml = tmp_path / "hoshikage.toml"
    (tmp_path / "m.bin").write_bytes(b"x")
    model = '[models.{name}]\nbackend = "echo"\npath = "m.bin"\n'
    toml.write_text('[reload]\nwatch = true\ninterval = "2s"\n' + model.format(name="a"))
    hk = Hoshikage(toml, plugins={"echo": echo}, clock=clock)
    await hk.start()
    async def look_again() -> None:  # one interval on, and asleep again
        await clock.advance(2)
        await eventually(lambda: clock.sleepers == 1)

    try:
        await eventually(lambda: clock.sleepers == 1)  # it has taken its first look
        toml.write_text(toml.read_text() + model.format(name="b"))
        await look_again()  # it sees the change ...
        assert [m.id for m in hk.list_models()] == ["a"]  # ... and waits for it to hold
        await look_again()
        assert [m.id for m in hk.list_models()] == ["a", "b"] and hk._watcher.reloads == 1
        toml.write_text(toml.read_text().replace('path = "m.bin"', "parallel = 0", 1))
        await look_again()
        await look_again()  # tried: invalid, so logged and not applied
        assert hk._watcher.reloads == 2 and [m.id for m in hk.list_models()] == ["a", "b"]
        await look_again()
        await look_again()
        assert hk._watcher.reloads == 2  # not again until the files change again
    finally:
        await hk.aclose()
