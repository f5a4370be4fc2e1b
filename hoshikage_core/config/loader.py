"""Read a TOML config file into :class:`HoshikageConfig`, with errors for people.

A mistake in the file becomes one :class:`~hoshikage_core.errors.ConfigError`
whose message names the file, each bad key path, the value and what was
expected. No traceback reaches the user.
"""

from __future__ import annotations

import difflib
import os
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .schema import HoshikageConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["CONFIG_ENV_VAR", "describe_validation_error", "load_config", "validate_config"]

CONFIG_ENV_VAR = "HOSHIKAGE_CONFIG"


def load_config(path: str | os.PathLike[str]) -> HoshikageConfig:
    """Parse and validate the TOML file at ``path``.

    Relative model paths are resolved against the file's directory.
    Raises :class:`ConfigError` with a message meant for the user.
    """
    source = Path(path).expanduser()
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {source}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {source}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file {source} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {source} is not valid TOML: {exc}") from None
    return validate_config(data, source=source.resolve(), base_dir=source.resolve().parent)


def validate_config(
    data: Mapping[str, Any],
    *,
    source: str | os.PathLike[str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> HoshikageConfig:
    """Validate an already-parsed config mapping (e.g. a dict built in code).

    ``environ`` (default ``os.environ``) is where discovery looks up ``HF_HOME`` and
    ``OLLAMA_MODELS``."""
    context: dict[str, Any] = {
        "base_dir": Path(base_dir) if base_dir is not None else Path.cwd(),
        "environ": os.environ if environ is None else environ}
    try:
        config = HoshikageConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source=source)) from None
    config._source = Path(source) if source is not None else None
    return config


def describe_validation_error(
    exc: ValidationError,
    *,
    source: str | os.PathLike[str] | None = None,
    prefix: tuple[str | int, ...] = (),
    model: type[BaseModel] = HoshikageConfig,
) -> str:
    """One readable paragraph per problem in ``exc``.

    ``prefix`` is prepended to every key path (used for backend options, which
    are validated separately); ``model`` is the class the locations refer to,
    used to suggest the key that was probably meant.
    """
    where = f" in {source}" if source is not None else ""
    lines = [f"Invalid configuration{where}:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = _key_path(prefix + loc)
        if err["type"] == "extra_forbidden":
            hint = _suggest(model, loc)
            lines.append(f"  - {key}: unknown key{hint}")
        elif err["type"] == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"  - {key}: {message}" if key else f"  - {message}")
        else:
            got = f"; got {err['input']!r}" if "input" in err else ""
            lines.append(f"  - {key}: expected {_lower_first(str(err['msg']))}{got}")
    return "\n".join(lines)


def _key_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lower_first(text: str) -> str:
    text = text.removeprefix("Input should be ").removeprefix("input should be ")
    return text[:1].lower() + text[1:]


def _suggest(model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """' (did you mean 'path'?)' when the unknown key resembles a known one."""
    known = _known_keys(model, loc[:-1])
    bad = str(loc[-1]) if loc else ""
    close = difflib.get_close_matches(bad, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if known:
        return f" (expected one of: {', '.join(sorted(known))})"
    return ""


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the table at ``loc``, walking models and dict-valued fields."""
    current: Any = model
    expect_dict_key = False
    for part in loc:
        if expect_dict_key:
            expect_dict_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _unwrap(field.annotation)
        if typing.get_origin(current) is dict:
            current = _unwrap(typing.get_args(current)[1])
            expect_dict_key = True
    if isinstance(current, type) and issubclass(current, BaseModel) and not expect_dict_key:
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation
