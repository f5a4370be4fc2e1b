"""The models discovery adds to a config, and the names it had to settle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .origin import DiscoveryReport, Found, ModelOrigin, NotServed
from .scan import (
    Scan,
    huggingface_hub,
    ollama_store,
    scan_folder,
    scan_huggingface,
    scan_ollama,
    store_folder,
)

if TYPE_CHECKING:
    from ..config.schema import DiscoveryConfig, ModelConfig

__all__ = ["Discovered", "discover"]


@dataclass(frozen=True)
class Discovered:
    """Models to serve next to the configured ones, where each came from, and the rest."""

    models: dict[str, ModelConfig]
    origins: dict[str, ModelOrigin]
    report: DiscoveryReport


def discover(discovery: DiscoveryConfig, configured: Mapping[str, ModelConfig],
             environ: Mapping[str, str]) -> Discovered:
    """Scan what ``discovery`` names and make a model of each file found.

    A found file is named by :mod:`.naming`. When that name is a configured model's (or
    alias), or two found files share it, each such file is served as ``qualifier/name``
    instead (its folder's name, its hub repository, ``ollama``) and the renaming is
    reported; only a file whose qualified name is taken too is not served, reported.
    A file that is a configured model's ``path`` already is that model. A file found
    under two names (two Ollama tags of one blob, overlapping folders) is one model: the
    first name, with the others as aliases.
    """
    scan = Scan()
    for folder in discovery.dirs:
        scan_folder(scan, folder)
    hub = store_folder(discovery.huggingface, huggingface_hub, environ)
    if hub is not None:
        scan_huggingface(scan, hub)
    store = store_folder(discovery.ollama, ollama_store, environ)
    if store is not None:
        scan_ollama(scan, store)
    taken = {alias for name, model in configured.items() for alias in (name, *model.aliases)}
    configured_files = {_real(m.path) for m in configured.values() if m.path is not None}
    found, other_names = _unique_files(scan.found, configured_files)
    counts = Counter(f.name for f in found)
    models: dict[str, ModelConfig] = {}
    origins: dict[str, ModelOrigin] = {}
    renamed: list[tuple[str, str, str]] = []
    for each in found:
        name = each.name
        if counts[name] > 1 or name in taken:
            name = f"{each.qualifier}/{each.name}"
            if name in taken or name in models:
                scan.not_served.append(NotServed(
                    str(each.path), f"its name '{each.name}' and its qualified name "
                    f"'{name}' are both taken", each.name))
                continue
            renamed.append((each.name, name, str(each.path)))
        models[name] = _model_config(discovery, name, each.path)
        origins[name] = each.origin
    used = taken | set(models) | {a for m in models.values() for a in m.aliases}
    for name, model in models.items():
        extra = [n for n in other_names.get(_real(model.path or Path()), []) if n not in used]
        used.update(extra)
        if extra:
            models[name] = model.model_copy(update={"aliases": [*model.aliases, *extra]})
    unused = sorted(set(discovery.models) - set(models))
    return Discovered(models, origins, DiscoveryReport(
        tuple(renamed), tuple(scan.not_served), tuple(unused)))


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _unique_files(found: list[Found], configured_files: set[Path]
                  ) -> tuple[list[Found], dict[Path, list[str]]]:
    """Each file once, and none that is a configured model; with, per file, the other
    names it was found under."""
    unique: dict[Path, Found] = {}
    other_names: dict[Path, list[str]] = {}
    for each in found:
        real = _real(each.path)
        if real in configured_files:
            continue
        if real in unique:
            if each.name != unique[real].name:
                other_names.setdefault(real, []).append(each.name)
        else:
            unique[real] = each
    return list(unique.values()), other_names


def _model_config(discovery: DiscoveryConfig, name: str, path: Path) -> ModelConfig:
    """``[discovery.models.NAME]`` (or nothing) with the file as its path; the backend
    is ``[discovery] backend`` unless the override names one."""
    from ..config.schema import ModelConfig

    override = discovery.models.get(name) or ModelConfig()
    backend = override.backend if "backend" in override.model_fields_set else discovery.backend
    return override.model_copy(update={"path": path, "backend": backend})
