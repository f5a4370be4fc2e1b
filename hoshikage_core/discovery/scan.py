"""Finding GGUF models: in folders, in the Hugging Face hub cache, in Ollama's store."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from .naming import is_gguf_name, is_projector, model_name, projector_key, split_part
from .origin import Found, ModelOrigin, NotServed, OriginKind

__all__ = ["Scan", "huggingface_hub", "ollama_store", "scan_folder", "scan_huggingface",
           "scan_ollama", "store_folder"]

GGUF_MAGIC = b"GGUF"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
OLLAMA_REGISTRY = "registry.ollama.ai"


class Scan:
    """What scans found: model files, and files served under no name."""

    def __init__(self) -> None:
        self.found: list[Found] = []
        self.not_served: list[NotServed] = []

    def skip(self, path: Path, reason: str) -> None:
        self.not_served.append(NotServed(str(path), reason))


def huggingface_hub(environ: Mapping[str, str]) -> Path:
    """Where the Hugging Face hub keeps its downloads: ``$HF_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if environ.get("HF_HUB_CACHE"):
        return Path(environ["HF_HUB_CACHE"]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def ollama_store(environ: Mapping[str, str]) -> Path:
    """Where Ollama keeps its models: ``$OLLAMA_MODELS``, else ``~/.ollama/models``."""
    return Path(environ.get("OLLAMA_MODELS") or "~/.ollama/models").expanduser()


def store_folder(setting: bool | Path, default: Callable[[Mapping[str, str]], Path],
                 environ: Mapping[str, str]) -> Path | None:
    """The folder ``huggingface`` / ``ollama = ...`` names: None when off, the
    ``default`` location when ``true``, else the folder given."""
    if setting is False:
        return None
    return default(environ) if setting is True else setting


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == GGUF_MAGIC
    except OSError:
        return False


def scan_folder(scan: Scan, root: Path, *, kind: OriginKind = "dir",
                qualifier: Callable[[Path], str] | None = None,
                report_root: Path | None = None) -> None:
    """Every GGUF model under ``root`` (its sub-folders too; hidden ones left out)."""
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        here = Path(folder)
        label = qualifier(here) if qualifier else (here.name or str(here))
        _scan_one_folder(scan, here, sorted(f for f in files if is_gguf_name(f)),
                         ModelOrigin(kind, str(report_root or root)), label)


def _scan_one_folder(scan: Scan, folder: Path, names: list[str], origin: ModelOrigin,
                     qualifier: str) -> None:
    models: dict[str, Found] = {}  # by file name of the (first) file
    splits: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    projectors: list[str] = []
    for filename in names:
        path = folder / filename
        if not _is_gguf(path):
            scan.skip(path, "not a GGUF file (it does not start with GGUF)")
        elif is_projector(filename):
            projectors.append(filename)
        elif (part := split_part(filename)) is not None:
            splits[(part.base, part.total)][part.index] = filename
        else:
            models[filename] = Found(model_name(filename), path, origin, qualifier)
    for (_, total), parts in splits.items():
        first = parts.get(1)
        if first is None or len(parts) != total or max(parts) != total:
            have = ", ".join(str(i) for i in sorted(parts))
            scan.skip(folder / parts[min(parts)],
                      f"a split model with parts {have} of {total}; all {total} are needed")
            continue
        models[first] = Found(model_name(first), folder / first, replace(origin, parts=total),
                              qualifier)
    _pair_projectors(scan, folder, models, projectors)
    scan.found.extend(models.values())


def _pair_projectors(scan: Scan, folder: Path, models: dict[str, Found],
                     projectors: list[str]) -> None:
    """Each ``mmproj-*`` file goes with the one model of its folder, else with the model
    whose name it shares the longest start with (at least 4 characters)."""
    for projector in projectors:
        owner = _owner_of(projector, models)
        path = folder / projector
        if owner is None:
            scan.skip(path, "a multimodal projector, and no model in its folder is clearly "
                            "its own (name it mmproj-<model name>.gguf)")
            continue
        found = models[owner]
        if found.origin.mmproj is not None:
            scan.skip(path, f"a second multimodal projector for '{found.name}', which is "
                            f"paired with {found.origin.mmproj}")
            continue
        models[owner] = Found(found.name, found.path, replace(found.origin, mmproj=str(path)),
                              found.qualifier)


def _owner_of(projector: str, models: dict[str, Found]) -> str | None:
    if len(models) == 1:
        return next(iter(models))
    key = projector_key(projector)
    shared = {filename: len(os.path.commonprefix([key, found.name.lower()]))
              for filename, found in models.items()}
    best = max(shared.values(), default=0)
    owners = [filename for filename, length in shared.items() if length == best]
    return owners[0] if best >= 4 and len(owners) == 1 else None


def scan_huggingface(scan: Scan, hub: Path) -> None:
    """GGUF files in each hub repository's current snapshot (``refs/main``, else the
    newest), named as files in a folder are; ``ORG/REPO`` tells equal names apart."""
    if not hub.is_dir():
        return
    for repo in sorted(hub.glob("models--*")):
        snapshot = _current_snapshot(repo)
        if snapshot is None:
            continue
        repo_id = "/".join(repo.name.split("--")[1:])
        scan_folder(scan, snapshot, kind="huggingface", qualifier=_constant(repo_id),
                    report_root=hub)


def _constant(text: str) -> Callable[[Path], str]:
    return lambda _: text


def _current_snapshot(repo: Path) -> Path | None:
    try:
        revision = (repo / "refs" / "main").read_text().strip()
    except OSError:
        revision = ""
    if revision and (repo / "snapshots" / revision).is_dir():
        return repo / "snapshots" / revision
    snapshots = [s for s in (repo / "snapshots").glob("*") if s.is_dir()]
    return max(snapshots, key=lambda s: s.stat().st_mtime, default=None)


def scan_ollama(scan: Scan, store: Path) -> None:
    """Each pulled Ollama model whose weights are GGUF, named as Ollama names it:
    ``qwen2.5:0.5b``, ``user/model:tag``, ``host/user/model:tag``."""
    manifests = store / "manifests"
    if not manifests.is_dir():
        return
    origin = ModelOrigin("ollama", str(store))
    for manifest in sorted(p for p in manifests.glob("*/*/*/*") if p.is_file()):
        registry, namespace, model, tag = manifest.relative_to(manifests).parts
        name = f"{model}:{tag}"
        if namespace != "library" or registry != OLLAMA_REGISTRY:
            name = f"{namespace}/{name}"
        if registry != OLLAMA_REGISTRY:
            name = f"{registry}/{name}"
        try:
            layers = {layer["mediaType"]: layer["digest"]
                      for layer in json.loads(manifest.read_text())["layers"]}
        except (OSError, ValueError, KeyError, TypeError):
            scan.skip(manifest, "an Ollama manifest that cannot be read")
            continue
        if OLLAMA_MODEL_LAYER not in layers:
            scan.skip(manifest, "an Ollama manifest without model weights")
            continue
        blob = _blob(store, layers[OLLAMA_MODEL_LAYER])
        if not _is_gguf(blob):
            scan.not_served.append(NotServed(str(blob), "its weights are not a GGUF file",
                                             name))
            continue
        projector = layers.get(OLLAMA_PROJECTOR_LAYER)
        mmproj = str(_blob(store, projector)) if projector else None
        scan.found.append(Found(name, blob, replace(origin, mmproj=mmproj), "ollama"))


def _blob(store: Path, digest: str) -> Path:
    return store / "blobs" / digest.replace(":", "-")
