"""Open a llama.cpp model and a context for ``parallel`` sequences from our options."""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hoshikage_core.types import LoadProgress

from .devices import describe_placement, offloads
from .options import KV_CACHE_TYPES, LlamaCppOptions
from .repack import repack_is_safe

__all__ = ["Runtime", "default_threads"]

log = logging.getLogger(__name__)


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _progress_callback(progress: LoadProgress) -> Callable[[float, Any], bool]:
    """llama.cpp's load progress callback: report, and never abort the load."""

    def on_progress(fraction: float, user_data: Any) -> bool:
        try:
            progress(fraction)
        except Exception:  # an exception here would abort the load: only log it
            log.exception("load progress callback failed")
        return True

    return on_progress


class Runtime:
    """A ``LlamaModel`` (weights, vocabulary) and one ``LlamaContext`` whose KV cache
    holds ``parallel`` sequences of ``n_ctx`` tokens each."""

    def __init__(self, path: Path, options: LlamaCppOptions, parallel: int, *,
                 name: str = "", progress: LoadProgress | None = None) -> None:
        import llama_cpp
        from llama_cpp import _internals, _logger

        _logger.set_verbose(options.verbose)  # what llama_cpp.Llama does: quiet unless asked
        self.lib = llama_cpp
        self.threads = options.n_threads or default_threads()
        model_params = llama_cpp.llama_model_default_params()
        if progress is not None:
            self._on_progress = llama_cpp.llama_progress_callback(_progress_callback(progress))
            model_params.progress_callback = self._on_progress
        model_params.n_gpu_layers = 0x7FFFFFFF if options.n_gpu_layers == -1 \
            else options.n_gpu_layers
        model_params.main_gpu = options.main_gpu
        model_params.use_extra_bufts = (repack_is_safe(str(path)) if options.repack == "auto"
                                        else options.repack)
        self._tensor_split: Any = None
        if options.tensor_split is not None:
            devices = llama_cpp.LLAMA_MAX_DEVICES
            if len(options.tensor_split) > devices:
                raise ValueError(f"tensor_split has {len(options.tensor_split)} entries; "
                                 f"this build supports {devices} devices")
            self._tensor_split = (ctypes.c_float * devices)(*options.tensor_split)
            model_params.tensor_split = self._tensor_split
        if options.use_mmap and options.use_mlock:
            model_params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP_MLOCK
        elif options.use_mlock:
            model_params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MLOCK
        elif options.use_mmap:
            model_params.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP
        else:
            model_params.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE
        self.model = _internals.LlamaModel(path_model=str(path), params=model_params,
                                           verbose=options.verbose)
        try:
            log.info("%s runs on %s", name or path.name, describe_placement(
                llama_cpp, options.n_gpu_layers, llama_cpp.llama_model_n_layer(self.model.model)))
            self.n_ctx_seq = options.n_ctx or self.model.n_ctx_train()
            self.parallel = parallel
            self.n_batch = min(options.n_batch, self.n_ctx_seq * parallel)
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = self.n_ctx_seq * parallel
            params.n_seq_max = parallel
            params.n_batch = self.n_batch
            params.n_ubatch = min(self.n_batch, 512)
            params.n_threads = self.threads
            params.n_threads_batch = options.n_threads_batch or self.threads
            self.on_gpu = offloads(llama_cpp, options.n_gpu_layers)
            params.flash_attn_type = {
                True: llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                False: llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
                "auto": self._auto_flash_attention(options),
            }[options.flash_attn]
            # one KV stream per sequence: attention looks at its own cells only, not at
            # every cell the other slots hold (kept for prefix reuse); ~10% faster
            # with 4 busy slots than one unified cache
            params.kv_unified = False
            params.no_perf = True
            for key in ("type_k", "type_v"):
                value = getattr(options, key)
                if value is not None:
                    setattr(params, key, getattr(llama_cpp, KV_CACHE_TYPES[value]))
            self.context = _internals.LlamaContext(model=self.model, params=params,
                                                   verbose=options.verbose)
            self.batch = _internals.LlamaBatch(n_tokens=self.n_batch, embd=0, n_seq_max=1,
                                               verbose=options.verbose)
        except BaseException:
            self.model.close()
            raise
        self.vocab = self.model.vocab
        self.n_vocab = self.model.n_vocab()

    def _auto_flash_attention(self, options: LlamaCppOptions) -> int:
        """``flash_attn = "auto"``: llama.cpp's own choice on a GPU; off on a CPU, where
        its flash-attention kernel makes small batches slow once the context is long
        (measured here at 4k tokens: a decode step 3x, a 9-token draft check 5.7x
        slower; a prompt about 10% faster). A quantized V cache needs it on."""
        lib = self.lib
        if self.on_gpu or options.type_v not in (None, "f16", "f32", "bf16"):
            return int(lib.LLAMA_FLASH_ATTN_TYPE_AUTO)
        return int(lib.LLAMA_FLASH_ATTN_TYPE_DISABLED)

    def close(self) -> None:
        self.batch.close()
        self.context.close()
        self.model.close()
