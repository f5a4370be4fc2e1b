"""Plugin discovery through real entry points, and the errors it can raise."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from hoshikage_core import hookimpl
from hoshikage_core.errors import PluginError
from hoshikage_core.plugins.discovery import create_plugin_manager


def install_fake_distribution(
    root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A real installed distribution (dist-info + modules) under ``root``."""
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[hoshikage]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fakeplug_")]:
        del sys.modules[name]


BACKEND_SOURCE = """
from hoshikage_core import hookimpl
@hookimpl
def hoshikage_load(model): return object()
@hookimpl
def hoshikage_generate(handle, request): return iter(())
@hookimpl
def hoshikage_unload(handle): pass
"""


def test_builtin_backend_comes_from_its_entry_point() -> None:
    plugins = create_plugin_manager()
    info = plugins.infos["llamacpp"]
    assert info.source == "entry point"
    assert info.distribution == "hoshikage" and info.version
    assert {"hoshikage_load", "hoshikage_generate", "hoshikage_unload"} <= set(info.hooks)
    assert "llamacpp" in plugins.backend_names()
    described = {info.name: info for info in plugins.describe()}
    assert described["llamacpp"].unavailable is None


def test_third_party_entry_point_is_discovered(site: Path) -> None:
    install_fake_distribution(site, "fakeplug-good", {"good": "fakeplug_good"},
                              {"fakeplug_good": BACKEND_SOURCE})
    plugins = create_plugin_manager()
    assert plugins.infos["good"].distribution == "fakeplug-good"
    assert plugins.infos["good"].version == "1.2.3"
    assert plugins.backend("good") is not None


def test_plugin_that_fails_to_import_is_reported_and_others_load(site: Path) -> None:
    install_fake_distribution(site, "fakeplug-broken", {"broken": "fakeplug_broken"},
                              {"fakeplug_broken": "import no_such_module_abc\n"})
    plugins = create_plugin_manager()
    assert "no_such_module_abc" in (plugins.infos["broken"].error or "")
    assert plugins.backend("broken") is None
    assert plugins.backend("llamacpp") is not None


def test_two_plugins_claiming_one_name_fail_naming_both(site: Path) -> None:
    install_fake_distribution(site, "fakeplug-one", {"dup": "fakeplug_one"},
                              {"fakeplug_one": BACKEND_SOURCE})
    install_fake_distribution(site / "other", "fakeplug-two", {"dup": "fakeplug_two"},
                              {"fakeplug_two": BACKEND_SOURCE})
    sys.path.insert(0, str(site / "other"))
    try:
        with pytest.raises(PluginError) as info:
            create_plugin_manager()
    finally:
        sys.path.remove(str(site / "other"))
    assert "fakeplug-one 1.2.3" in str(info.value) and "fakeplug-two 1.2.3" in str(info.value)


def test_embedded_plugin_colliding_with_entry_point_fails() -> None:
    module = types.ModuleType("mine")
    with pytest.raises(PluginError, match="two plugins claim the name 'llamacpp'"):
        create_plugin_manager({"llamacpp": module})


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def hoshikage_lod(self, model: object) -> None: ...

    with pytest.raises(PluginError, match="hoshikage_lod"):
        create_plugin_manager({"typo": Typo()}, load_entry_points=False)


def test_backend_missing_a_required_hook_fails() -> None:
    class Half:
        @hookimpl
        def hoshikage_load(self, model: object) -> object:
            return object()

    with pytest.raises(PluginError, match="not hoshikage_generate, hoshikage_unload"):
        create_plugin_manager({"half": Half()}, load_entry_points=False)


def test_dispatch_reaches_only_the_named_backend() -> None:
    calls: list[str] = []

    def backend(name: str) -> object:
        class B:
            @hookimpl
            def hoshikage_load(self, model: object) -> str:
                calls.append(name)
                return name

            @hookimpl
            def hoshikage_generate(self, handle: object, request: object) -> list[object]:
                return []

            @hookimpl
            def hoshikage_unload(self, handle: object) -> None: ...

        return B()

    plugins = create_plugin_manager({"a": backend("a"), "b": backend("b")},
                                    load_entry_points=False)
    b = plugins.backend("b")
    assert b is not None
    assert b.load(model=None) == "b"
    assert calls == ["b"]


WORDS_DIR = Path(__file__).resolve().parents[2] / "examples" / "plugins"


def test_plugin_folder_files_become_plugins_named_after_the_file() -> None:
    plugins = create_plugin_manager(plugin_dir=WORDS_DIR, environ={})
    info = plugins.infos["words"]
    assert info.source == "dir" and info.is_backend and plugins.backend("words") is not None


def test_a_missing_plugin_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="does not exist"):
        create_plugin_manager(plugin_dir=tmp_path / "nope", environ={})


def test_a_broken_folder_plugin_is_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("raise RuntimeError('no good')\n")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    plugins = create_plugin_manager(plugin_dir=tmp_path, environ={})
    assert "no good" in (plugins.infos["bad"].error or "")
    assert "_private" not in plugins.infos and plugins.backend("llamacpp") is not None


def test_allow_list_block_list_and_config_disable() -> None:
    only = create_plugin_manager(plugin_dir=WORDS_DIR,
                                 environ={"HOSHIKAGE_LOAD_PLUGINS": "words"})
    assert only.backend_names() == ["words"]
    assert only.infos["llamacpp"].disabled == "HOSHIKAGE_LOAD_PLUGINS"
    assert "disabled by HOSHIKAGE_LOAD_PLUGINS" in (only.failed("llamacpp") or "")
    none = create_plugin_manager(environ={"HOSHIKAGE_LOAD_PLUGINS": ""})
    assert none.backend_names() == []
    blocked = create_plugin_manager(environ={"HOSHIKAGE_DISABLE_PLUGINS": "ctransformers"})
    assert "ctransformers" not in blocked.backend_names()
    assert "llamacpp" in blocked.backend_names()
    configured = create_plugin_manager(disable=["llamacpp"], environ={})
    assert configured.infos["llamacpp"].disabled == "[plugins] disable"
    embedded = create_plugin_manager({"mine": types.ModuleType("mine")},
                                     environ={"HOSHIKAGE_LOAD_PLUGINS": ""})
    assert "mine" in embedded.infos  # embedded plugins are always loaded


def test_tracing_logs_hook_calls(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    plugins = create_plugin_manager(environ={"HOSHIKAGE_TRACE_PLUGINS": "1"})
    backend = plugins.backend("llamacpp")
    assert backend is not None
    with caplog.at_level(logging.INFO, logger="hoshikage.plugins.trace"):
        backend.unavailable_reason()
    assert any("hoshikage_unavailable_reason" in r.getMessage() for r in caplog.records)


async def test_a_disabled_backend_answers_503_naming_the_switch(tmp_path: Path) -> None:
    from hoshikage_core import Hoshikage
    from hoshikage_core.errors import BackendUnavailableError

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    cfg = {"plugins": {"disable": ["llamacpp"]}, "models": {"m": {"path": str(model)}}}
    async with Hoshikage(cfg) as hk:
        with pytest.raises(BackendUnavailableError, match=r"\[plugins\] disable"):
            await hk.complete("x", model="m")
