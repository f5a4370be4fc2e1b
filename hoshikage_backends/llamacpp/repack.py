"""Whether llama.cpp's repacked weight layouts (its "extra buffer types") are safe here.

llama.cpp moves quantized weights into layouts for the CPU's matrix units (AMX
tiles on recent Xeons, AVX-512 repacks) when it loads a model. Some virtual
machines advertise AMX in CPUID and let a process ask for it, yet fault on the
first tile instruction: the whole server would die with SIGILL on the first
prompt. So on a CPU that advertises AMX, with a llama.cpp built to use it, the
first load of each model file is tried once in a child process; if that child
dies of SIGILL, the model loads without repacking (and the log says why).
Everywhere else nothing is probed.

Run as ``python -m hoshikage_backends.llamacpp.repack MODEL.gguf`` it is that child.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["repack_is_safe"]

log = logging.getLogger(__name__)

PROBE_TOKENS = 32  # a prompt batch: the path where the matrix units are used
PROBE_TIMEOUT = 600.0  # seconds; a hang guard for a huge model on a slow disk


def cpu_advertises_amx(cpuinfo: str) -> bool:
    """Whether ``/proc/cpuinfo`` text lists AMX among the CPU's flags."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return "amx_tile" in line.split(":", 1)[-1].split()
    return False


def build_uses_amx(llama_cpp: Any) -> bool:
    """Whether this llama.cpp build has its AMX kernels compiled in."""
    return b"AMX_INT8 = 1" in bytes(llama_cpp.llama_print_system_info())


@lru_cache(maxsize=64)  # a fact about this machine and file: probed once per process
def repack_is_safe(path: str) -> bool:
    """False only when loading ``path`` with repacking faults on this machine."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    if not cpu_advertises_amx(cpuinfo):
        return True
    import llama_cpp

    if not build_uses_amx(llama_cpp):
        return True
    try:
        child = subprocess.run([sys.executable, "-m", __name__, path], capture_output=True,
                               text=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("%s: the repacking probe did not finish; loading with repacking",
                    Path(path).name)
        return True
    if child.returncode == -signal.SIGILL:
        log.warning("%s: this CPU advertises AMX, but its tile instructions fault here "
                    "(seen in some virtual machines), so the model loads without "
                    "llama.cpp's repacked weights (option repack = false). Prompts are "
                    "evaluated more slowly than on hardware whose AMX works.",
                    Path(path).name)
        return False
    if child.returncode != 0:  # not the fault we look for: the real load will say more
        log.debug("repacking probe of %s exited %s: %s", path, child.returncode,
                  child.stderr[-2000:])
    return True


def _probe(path: str) -> None:
    """Load ``path`` with repacking and evaluate one prompt batch (the child's work)."""
    import llama_cpp
    from llama_cpp import _internals, _logger

    _logger.set_verbose(False)
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0
    params.use_extra_bufts = True
    model = _internals.LlamaModel(path_model=path, params=params, verbose=False)
    context_params = llama_cpp.llama_context_default_params()
    context_params.n_ctx = context_params.n_batch = PROBE_TOKENS * 2
    context = _internals.LlamaContext(model=model, params=context_params, verbose=False)
    batch = _internals.LlamaBatch(n_tokens=PROBE_TOKENS, embd=0, n_seq_max=1, verbose=False)
    tokens = [i % max(1, model.n_vocab()) for i in range(PROBE_TOKENS)]
    batch.set_batch(tokens, n_past=0, logits_all=False)
    context.decode(batch)


if __name__ == "__main__":
    _probe(sys.argv[1])
