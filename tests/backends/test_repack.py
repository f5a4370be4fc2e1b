"""Repacked weights are used unless this machine's AMX faults (some VMs); decided by a
child process that tries the model, so a fault never kills the server."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hoshikage_backends.llamacpp import repack
from hoshikage_backends.llamacpp.options import LlamaCppOptions
from hoshikage_core.kit.options import OptionsError, parse_options
from hoshikage_core.types import ModelSpec


def test_amx_is_read_from_the_cpu_flags() -> None:
    assert repack.cpu_advertises_amx("processor : 0\nflags : fpu avx2 amx_tile amx_int8\n")
    assert not repack.cpu_advertises_amx("flags : fpu avx2 avx512f\n")
    assert not repack.cpu_advertises_amx("no flags line here\n")


def test_the_option_takes_true_false_or_auto() -> None:
    def options(value: object) -> LlamaCppOptions:
        return parse_options(LlamaCppOptions, ModelSpec("m", None, {"repack": value}))

    assert options(False).repack is False and options("auto").repack == "auto"
    with pytest.raises(OptionsError, match="repack"):
        options("sometimes")


@pytest.mark.real_model
def test_the_verdict_is_what_a_child_load_with_repacking_does(bundled_model_path: Path) -> None:
    """Where AMX is advertised and built in, the verdict must match the child's fate;
    elsewhere nothing is probed and repacking stays on."""
    import llama_cpp

    path = str(bundled_model_path)
    verdict = repack.repack_is_safe(path)
    probed = repack.cpu_advertises_amx(Path("/proc/cpuinfo").read_text()) and \
        repack.build_uses_amx(llama_cpp)
    if not probed:
        assert verdict is True
        return
    child = subprocess.run([sys.executable, "-m", "hoshikage_backends.llamacpp.repack", path],
                           capture_output=True, text=True, timeout=600)
    assert verdict is (child.returncode != -signal.SIGILL), child.stderr[-2000:]
    if child.returncode == 0:
        assert child.stdout.strip() == "ok"
