"""Config loading: valid files, and errors that name the file, key and expectation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hoshikage_core import Hoshikage
from hoshikage_core.config import default_config, load_config, validate_config
from hoshikage_core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hoshikage.toml"
    path.write_text(text)
    return path


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_example_config_is_valid() -> None:
    config = load_config(REPO / "examples" / "hoshikage.toml")
    assert set(config.models) == {"smollm2", "smollm2-small"}
    assert config.models["smollm2"].aliases == ["default"]
    assert config.models["smollm2"].path is not None and config.models["smollm2"].path.is_file()
    assert config.defaults.idle_timeout == 300
    assert config.source == (REPO / "examples" / "hoshikage.toml").resolve()


def test_defaults_and_overrides(tmp_path: Path, model_file: Path) -> None:
    path = write(tmp_path, """
[defaults]
idle_timeout = -1
parallel = 2
[models.a]
path = "m.gguf"
[models.b]
path = "m.gguf"
idle_timeout = "30s"
parallel = 1
max_queue = 0
""")
    config = load_config(path)
    assert config.server.host == "127.0.0.1" and config.server.port == 3030
    assert config.models["a"].path == model_file.resolve()  # relative to the file
    a, b = config.effective("a"), config.effective("b")
    assert (a.idle_timeout, a.parallel, a.max_queue) == (math.inf, 2, 32)
    assert (b.idle_timeout, b.parallel, b.max_queue) == (30, 1, 0)


def test_embedded_default_serves_bundled_model() -> None:
    config = default_config()
    assert config.models["smollm2"].aliases == ["default"]
    assert config.models["smollm2"].path is not None and config.models["smollm2"].path.is_file()


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        Hoshikage(path)
    return str(info.value)


def test_misspelled_key_is_named_with_a_suggestion(tmp_path: Path, model_file: Path) -> None:
    message = error_of(write(tmp_path, '[models.a]\npth = "m.gguf"\n'))
    assert str(tmp_path / "hoshikage.toml") in message
    assert "models.a.pth: unknown key (did you mean 'path'?)" in message


def test_unknown_table_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[srever]\nport = 1\n"))
    assert "srever: unknown key (did you mean 'server'?)" in message


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[server]\nport = "eighty"\n'))
    assert "server.port: expected a valid integer" in message
    assert "'eighty'" in message


def test_bad_duration(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[defaults]\nidle_timeout = "soon"\n'))
    assert "defaults.idle_timeout" in message and "expected a duration" in message


def test_out_of_range(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[defaults]\nparallel = 0\n"))
    assert "defaults.parallel: expected greater than or equal to 1; got 0" in message


def test_missing_model_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[models.a]\npath = "nope.gguf"\n'))
    assert "models.a.path" in message and "nope.gguf does not exist" in message


def test_missing_package_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[models.a]\npath = "pkg:no_such_pkg_xyz/m.gguf"\n'))
    assert "models.a.path" in message and "'no_such_pkg_xyz' is not installed" in message


def test_draft_model_must_be_another_configured_model(tmp_path: Path,
                                                      model_file: Path) -> None:
    def problem(draft: str, backend: str = "llamacpp") -> str:
        return error_of(write(tmp_path, f"""
[models.big]
path = "m.gguf"
draft_model = "{draft}"
[models.small]
path = "m.gguf"
backend = "{backend}"
aliases = ["tiny"]
"""))

    assert "models.big.draft_model: expected the name of another configured model; there " \
        "is no model 'smal'" in problem("smal")
    assert "models.big.draft_model: a model cannot draft for itself" in problem("big")
    assert "'small' uses backend 'ctransformers', this model 'llamacpp'" in \
        problem("small", "ctransformers")
    config = load_config(write(tmp_path, """
[models.big]
path = "m.gguf"
draft_model = "tiny"
[models.small]
path = "m.gguf"
aliases = ["tiny"]
"""))
    assert config.draft_of("big") == "small" and config.draft_of("small") is None


def test_alias_collision(tmp_path: Path, model_file: Path) -> None:
    message = error_of(write(tmp_path, """
[models.a]
path = "m.gguf"
aliases = ["x"]
[models.b]
path = "m.gguf"
aliases = ["a"]
"""))
    assert "models.b.aliases: 'a' is already the model 'a'" in message


def test_unknown_backend_lists_installed(tmp_path: Path, model_file: Path) -> None:
    message = error_of(write(tmp_path, '[models.a]\nbackend = "vllm"\npath = "m.gguf"\n'))
    assert "models.a.backend: no backend named 'vllm'" in message
    assert "llamacpp" in message


def test_backend_options_are_checked_at_startup(tmp_path: Path, model_file: Path) -> None:
    message = error_of(write(tmp_path, """
[models.a]
path = "m.gguf"
[models.a.options]
n_gpu_layer = 10
n_ctx = -5
type_k = "q9"
"""))
    assert "models.a.options.n_gpu_layer: unknown key (did you mean 'n_gpu_layers'?)" in message
    assert "models.a.options.n_ctx: expected greater than or equal to 0; got -5" in message
    assert "models.a.options.type_k" in message and "'q9'" in message


def test_toml_syntax_error(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[server\nport = 1\n"))
    assert "is not valid TOML" in message and "line 1" in message


def test_missing_config_file(tmp_path: Path) -> None:
    assert "Config file not found" in error_of(tmp_path / "absent.toml")


def test_dict_config_is_validated_too() -> None:
    with pytest.raises(ConfigError, match="server.port"):
        validate_config({"server": {"port": 70000}})
