"""Where llama.cpp put a model: which devices it has, how many layers went to a GPU.

llama-cpp-python does not bind ggml's device registry, so the few functions
needed are read from the ggml library it ships (found next to ``libllama``).
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Device", "describe_placement", "list_devices", "offloads"]

GPU_TYPES = {1: "GPU", 2: "integrated GPU"}  # ggml_backend_dev_type: CPU, GPU, IGPU, ACCEL


@dataclass(frozen=True)
class Device:
    name: str  # e.g. "CPU", "CUDA0"
    description: str  # e.g. the CPU or GPU model
    kind: str  # "CPU", "GPU", "integrated GPU" or "accelerator"

    @property
    def is_gpu(self) -> bool:
        return self.kind in GPU_TYPES.values()


def _ggml_library(lib: Any) -> ctypes.CDLL | None:
    folder = Path(lib.__file__).resolve().parent / "lib"
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    for name in (f"libggml{suffix}", f"ggml{suffix}"):
        if (folder / name).exists():
            try:
                return ctypes.CDLL(str(folder / name))
            except OSError:
                return None
    return None


def list_devices(lib: Any) -> list[Device] | None:
    """The devices llama.cpp can use, or None if this build does not tell."""
    ggml = _ggml_library(lib)
    if ggml is None:
        return None
    try:
        ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
        for fn in (ggml.ggml_backend_dev_name, ggml.ggml_backend_dev_description):
            fn.argtypes = [ctypes.c_void_p]
            fn.restype = ctypes.c_char_p
        ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        ggml.ggml_backend_dev_type.restype = ctypes.c_int
    except AttributeError:  # an older ggml without the device registry
        return None
    devices = []
    for index in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(index)
        kind = ggml.ggml_backend_dev_type(dev)
        devices.append(Device(
            name=(ggml.ggml_backend_dev_name(dev) or b"?").decode(errors="replace"),
            description=(ggml.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
            kind="CPU" if kind == 0 else GPU_TYPES.get(kind, "accelerator"),
        ))
    return devices


def describe_placement(lib: Any, n_gpu_layers: int, n_layer: int) -> str:
    """One line for the log: the device(s) a model runs on and its offloaded layers.

    llama.cpp offloads the last ``n_gpu_layers`` of the model's ``n_layer``
    repeating layers plus its output layer (``n_layer + 1`` in all).
    """
    total = n_layer + 1
    if not lib.llama_supports_gpu_offload():
        return ("CPU: this llama-cpp-python is built without GPU support "
                "(see docs/gpu.md to build it with CUDA)")
    devices = list_devices(lib) or []
    gpus = [d for d in devices if d.is_gpu]
    if not gpus:
        return "CPU: llama-cpp-python has GPU support but finds no GPU"
    offloaded = total if n_gpu_layers < 0 else min(n_gpu_layers, total)
    names = ", ".join(f"{d.name} ({d.description})" for d in gpus)
    if offloaded == 0:
        return f"CPU: n_gpu_layers = 0 (GPUs available: {names})"
    where = "GPU" if offloaded == total else "GPU and CPU"
    return f"{where}: {offloaded} of {total} layers offloaded to {names}"


def offloads(lib: Any, n_gpu_layers: int) -> bool:
    """Whether a model loaded with ``n_gpu_layers`` will have layers on a GPU."""
    if n_gpu_layers == 0 or not lib.llama_supports_gpu_offload():
        return False
    return any(d.is_gpu for d in list_devices(lib) or [])
