"""The configuration file's shape, as pydantic models (DESIGN §3).

Every table forbids unknown keys, so a misspelling is an error that names the
key instead of a setting silently ignored.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..discovery import DiscoveryReport, ModelOrigin, discover
from ..discovery.origin import CONFIGURED
from .cluster import ClusterConfig, ModelClusterConfig
from .durations import parse_duration
from .package_files import PACKAGE_SCHEME, resolve_package_file
from .sizes import parse_size

__all__ = [
    "DefaultsConfig",
    "DiscoveryConfig",
    "Duration",
    "HoshikageConfig",
    "ModelConfig",
    "PluginsConfig",
    "ReloadConfig",
    "SamplingDefaults",
    "ServerConfig",
]

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; ``math.inf`` means forever. Written as ``"5m"``, ``"30s"``, ``0``, ``-1``."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""Bytes. Written as ``"6GiB"``, ``"512MiB"``, ``"8GB"`` or a number."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _relative(path: Path, info: ValidationInfo) -> Path:
    """``path`` with ``~`` expanded, relative to the config file's folder."""
    path = path.expanduser()
    base_dir = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


class ServerConfig(_Table):
    """``[server]``: where to listen, who may call, what is logged."""

    host: str = "127.0.0.1"
    port: int = Field(3030, ge=0, le=65535)
    api_keys: list[Annotated[str, Field(min_length=8)]] = Field(default_factory=list)
    api_keys_file: Path | None = None
    allow_insecure_public_bind: bool = False
    cors_origins: list[str] = Field(default_factory=list)
    max_body_size: ByteSize = 4 * 2**20
    shutdown_timeout: Duration = 30.0
    log_prompts: bool = False
    log_format: Literal["text", "json"] = "text"
    ui: bool = True
    stream_ping: Duration = Field(10.0, gt=0)
    """How long an Anthropic or Responses stream waits for the model (loading, reading a
    long prompt) before it starts with keep-alive events, one this often."""
    responses_store: int = Field(256, ge=0)
    """Responses ``/v1/responses`` keeps (in memory, newest first) for
    ``previous_response_id``; 0: none."""
    ollama_port: int | None = Field(None, ge=0, le=65535)
    """A second port serving the same API, for Ollama clients that assume 11434."""

    @field_validator("api_keys_file")
    @classmethod
    def _keys_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        path = _relative(path, info)
        if not path.is_file():
            raise ValueError(f"expected a file with one API key per line; {path} does not "
                             "exist")
        return path.resolve()

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"expected origins like https://app.example.com or \"*\"; "
                                 f"got {origin!r}")
        return origins


class DefaultsConfig(_Table):
    """``[defaults]``: settings every model takes unless it overrides them."""

    idle_timeout: Duration = 300.0
    max_loaded_models: int = Field(2, ge=1)
    memory_budget: ByteSize | None = None
    parallel: int = Field(1, ge=1)
    max_queue: int = Field(32, ge=0)
    fairness_cap: int = Field(8, ge=1)
    max_tokens_limit: int | None = Field(None, ge=1)
    max_n: int = Field(16, ge=1, le=128)
    cluster: ModelClusterConfig = Field(default_factory=ModelClusterConfig)


class SamplingDefaults(_Table):
    """``[models.NAME.sampling]``: defaults for fields a request leaves out.

    Like PARAMETER lines in an Ollama Modelfile: a request's own values win.
    """

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(None, ge=0.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1)

    def as_request_defaults(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ModelConfig(_Table):
    """``[models.NAME]``: one model and the backend that serves it."""

    backend: str = Field("llamacpp", min_length=1)
    path: Path | None = None
    aliases: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    sampling: SamplingDefaults = Field(default_factory=SamplingDefaults)
    idle_timeout: Duration | None = None
    parallel: int | None = Field(None, ge=1)
    max_queue: int | None = Field(None, ge=0)
    max_tokens_limit: int | None = Field(None, ge=1)
    max_n: int | None = Field(None, ge=1, le=128)
    preload: bool = False
    pinned: bool = False
    """Never unloaded by the idle timer or to make room (``hoshikage pin/unpin`` too)."""
    draft_model: str | None = Field(None, min_length=1)
    """Another configured model (same backend, same vocabulary) that drafts tokens for
    this one to check: speculative decoding with a second, smaller model."""
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra chat template variables (e.g. ``enable_thinking = false``); a request's
    own ``chat_template_kwargs`` win."""
    reasoning_format: Literal["auto", "none"] = "auto"
    reasoning_budget: int | None = Field(None, ge=0)
    cluster: ModelClusterConfig | None = None
    """Replicas and their resources when ``[cluster] engine`` is not ``"local"``."""

    @field_validator("path", mode="before")
    @classmethod
    def _package_path(cls, value: Any) -> Any:
        """``pkg:PACKAGE/FILE`` names a file inside an installed Python package."""
        if isinstance(value, str) and value.startswith(PACKAGE_SCHEME):
            return resolve_package_file(value)
        return value

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        """Relative paths are relative to the config file; the file must exist."""
        if path is None:
            return None
        path = _relative(path, info).resolve()
        if not path.is_file():
            raise ValueError(f"expected an existing model file; {path} does not exist")
        return path


class PluginsConfig(_Table):
    """``[plugins]``: which plugins to leave out, and a folder of plugin files."""

    disable: list[str] = Field(default_factory=list)
    dir: Path | None = None

    @field_validator("dir")
    @classmethod
    def _existing_folder(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        path = _relative(path, info).resolve()
        if not path.is_dir():
            raise ValueError(f"expected an existing folder of plugin files; {path} is not one")
        return path


def _existing_folder(path: Path, info: ValidationInfo, what: str) -> Path:
    path = _relative(path, info).resolve()
    if not path.is_dir():
        raise ValueError(f"expected an existing folder {what}; {path} is not one")
    return path


class DiscoveryConfig(_Table):
    """``[discovery]``: folders whose GGUF files are served without a ``[models.*]``
    table each (see docs/discovery.md for how files are named)."""

    dirs: list[Path] = Field(default_factory=list)
    huggingface: bool | Path = False
    """The Hugging Face hub cache (``true``: ``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or
    ``~/.cache/huggingface/hub``; or its path)."""
    ollama: bool | Path = False
    """Ollama's model store (``true``: ``$OLLAMA_MODELS`` or ``~/.ollama/models``; or its
    path); models whose weights are GGUF."""
    backend: str = Field("llamacpp", min_length=1)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    """Per discovered name, settings as in ``[models.NAME]`` (all but ``path``)."""

    @field_validator("dirs")
    @classmethod
    def _dirs(cls, dirs: list[Path], info: ValidationInfo) -> list[Path]:
        return [_existing_folder(d, info, "of GGUF files") for d in dirs]

    @field_validator("huggingface", "ollama")
    @classmethod
    def _store(cls, value: bool | Path, info: ValidationInfo) -> bool | Path:
        what = "(the hub cache)" if info.field_name == "huggingface" else "(Ollama's models)"
        return value if isinstance(value, bool) else _existing_folder(value, info, what)

    @model_validator(mode="after")
    def _no_paths(self) -> DiscoveryConfig:
        for name, model in self.models.items():
            if "path" in model.model_fields_set:
                raise ValueError(f"discovery.models.{name}.path: a discovered model's path "
                                 "is its file; to serve another file, add [models.NAME]")
        return self


class ReloadConfig(_Table):
    """``[reload]``: reloading the config without a restart (SIGHUP, ``hoshikage
    reload`` and ``POST /admin/reload`` always work)."""

    watch: bool = False
    """Reload when the config file or a discovery folder changes."""
    interval: Duration = Field(2.0, gt=0)
    """How often to look; a change is applied once it has held still this long."""


class HoshikageConfig(_Table):
    """The whole configuration file."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    reload: ReloadConfig = Field(default_factory=ReloadConfig)
    _source: Path | None = PrivateAttr(default=None)
    _origins: dict[str, ModelOrigin] = PrivateAttr(default_factory=dict)
    _discovery: DiscoveryReport = PrivateAttr(default_factory=DiscoveryReport)
    _overrides: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path | None:
        """The file this config was read from, if any."""
        return self._source

    def override(self, table: str, **values: Any) -> None:
        """Set keys of ``table`` from outside the file (``hoshikage run --port``),
        validated; a reload keeps them (:attr:`overrides`)."""
        section = getattr(self, table)
        for key, value in values.items():
            setattr(section, key, value)
        self._overrides.setdefault(table, {}).update(values)

    @property
    def overrides(self) -> dict[str, dict[str, Any]]:
        """What :meth:`override` set, by table."""
        return {table: dict(values) for table, values in self._overrides.items()}

    @property
    def discovery_report(self) -> DiscoveryReport:
        """What discovery found but serves under another name, or not at all."""
        return self._discovery

    def origin(self, name: str) -> ModelOrigin:
        """Where model ``name`` came from: its ``[models.*]`` table or a discovered file."""
        return self._origins.get(name, CONFIGURED)

    @model_validator(mode="after")
    def _add_discovered(self, info: ValidationInfo) -> HoshikageConfig:
        """The models ``[discovery]`` finds join the configured ones (which win)."""
        environ = (info.context or {}).get("environ", os.environ)
        found = discover(self.discovery, self.models, environ)
        self.models.update(found.models)  # in place: no second validation of the paths
        self._origins, self._discovery = found.origins, found.report
        return self

    @model_validator(mode="after")
    def _names_are_unique(self) -> HoshikageConfig:
        owner: dict[str, str] = {name: name for name in self.models}
        for name, model in self.models.items():
            for alias in model.aliases:
                if alias in owner and owner[alias] != name:
                    other = owner[alias]
                    what = "the model" if alias == other else "an alias of model"
                    raise ValueError(
                        f"models.{name}.aliases: '{alias}' is already {what} '{other}'; "
                        "model names and aliases must be unique"
                    )
                owner[alias] = name
        for name, model in self.models.items():
            draft = model.draft_model
            if draft is None:
                continue
            target = owner.get(draft)
            if target is None:
                raise ValueError(f"models.{name}.draft_model: expected the name of another "
                                 f"configured model; there is no model '{draft}' (models: "
                                 f"{', '.join(self.models)})")
            if target == name:
                raise ValueError(f"models.{name}.draft_model: a model cannot draft for "
                                 "itself; name a smaller model with the same vocabulary")
            if self.models[target].backend != model.backend:
                raise ValueError(
                    f"models.{name}.draft_model: '{draft}' uses backend "
                    f"'{self.models[target].backend}', this model '{model.backend}'; a "
                    "draft model must use the same backend")
        for name in self.models:
            pool = self.cluster_of(name).pool
            if pool is not None and pool not in self.cluster.pools:
                known = ", ".join(self.cluster.pools) or "none"
                raise ValueError(f"models.{name}.cluster.pool: expected a pool of "
                                 f"[cluster.pools]; there is no pool '{pool}' (pools: {known})")
        return self

    def cluster_of(self, name: str) -> ModelClusterConfig:
        """Model ``name``'s ``[models.NAME.cluster]`` over ``[defaults.cluster]``."""
        own = self.models[name].cluster
        defaults = self.defaults.cluster
        return defaults if own is None else own.merged_over(defaults)

    def names(self) -> dict[str, str]:
        """Every model name and alias, each mapped to the model's configured name."""
        return {alias: name for name, model in self.models.items()
                for alias in (name, *model.aliases)}

    def draft_of(self, name: str) -> str | None:
        """The name of the model that drafts for model ``name``, if any."""
        draft = self.models[name].draft_model
        return None if draft is None else self.names()[draft]

    def effective(self, name: str) -> EffectiveModelSettings:
        """Model ``name``'s settings with ``[defaults]`` filled in."""
        model, defaults = self.models[name], self.defaults
        return EffectiveModelSettings(
            idle_timeout=model.idle_timeout if model.idle_timeout is not None
            else defaults.idle_timeout,
            parallel=model.parallel or defaults.parallel,
            max_queue=model.max_queue if model.max_queue is not None else defaults.max_queue,
            max_tokens_limit=model.max_tokens_limit or defaults.max_tokens_limit,
            max_n=model.max_n or defaults.max_n,
            chat_template_kwargs=dict(model.chat_template_kwargs),
            reasoning_format=model.reasoning_format,
            reasoning_budget=model.reasoning_budget,
        )


class EffectiveModelSettings(BaseModel):
    """Per-model settings after defaults apply."""

    model_config = ConfigDict(frozen=True)

    idle_timeout: float = math.inf
    parallel: int = 1
    max_queue: int = 32
    max_tokens_limit: int | None = None
    max_n: int = 16
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    reasoning_format: Literal["auto", "none"] = "auto"
    reasoning_budget: int | None = None
