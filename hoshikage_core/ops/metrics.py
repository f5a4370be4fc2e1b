"""Prometheus metrics of one Hoshikage (``GET /metrics``), with prometheus-client.

Every instance has its own registry: two Hoshikages in one process do not
share series. Model gauges (loaded, memory, running, queued) are read from the
model manager when scraped, so scraping never loads a model or resets a timer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from ..lifecycle.state import ModelInfo

__all__ = ["Metrics"]

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_TOKEN_GAP = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)
_LOAD = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _ModelCollector(Collector):
    def __init__(self, models: Callable[[], Iterable[ModelInfo]]) -> None:
        self._models = models

    def collect(self) -> Iterator[Metric]:
        loaded = GaugeMetricFamily("hoshikage_model_loaded",
                                   "1 if the model is loaded (ready), else 0", labels=["model"])
        memory = GaugeMetricFamily(
            "hoshikage_model_memory_bytes",
            "Estimated memory of the model while loaded (0 when not loaded)", labels=["model"])
        running = GaugeMetricFamily("hoshikage_running_requests",
                                    "Requests generating on the model", labels=["model"])
        queued = GaugeMetricFamily("hoshikage_queue_depth",
                                   "Requests waiting for the model", labels=["model"])
        for info in self._models():
            is_loaded = info.state.value == "ready"
            loaded.add_metric([info.id], 1.0 if is_loaded else 0.0)
            memory.add_metric([info.id], float(info.memory_bytes or 0) if is_loaded else 0.0)
            running.add_metric([info.id], float(info.running))
            queued.add_metric([info.id], float(info.queued))
        yield from (loaded, memory, running, queued)


class Metrics:
    """The series Hoshikage exports; every name starts with ``hoshikage_``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("hoshikage_requests", "HTTP requests answered",
                                ["model", "endpoint", "status"], registry=r)
        self.prompt_tokens = Counter("hoshikage_prompt_tokens", "Prompt tokens processed",
                                     ["model"], registry=r)
        self.generated_tokens = Counter("hoshikage_generated_tokens", "Tokens generated",
                                        ["model"], registry=r)
        self.cached_prompt_tokens = Counter(
            "hoshikage_cached_prompt_tokens",
            "Prompt tokens whose KV cells were already computed (not evaluated again)",
            ["model"], registry=r)
        self.draft_tokens = Counter("hoshikage_draft_tokens",
                                    "Speculative draft tokens checked by the model", ["model"],
                                    registry=r)
        self.accepted_draft_tokens = Counter(
            "hoshikage_accepted_draft_tokens",
            "Speculative draft tokens the model wrote (each one saved a decode step)",
            ["model"], registry=r)
        self.time_to_first_token = Histogram(
            "hoshikage_time_to_first_token_seconds",
            "From a generation's start (slot granted) to its first text", ["model"],
            buckets=_LATENCY, registry=r)
        self.inter_token_latency = Histogram(
            "hoshikage_inter_token_latency_seconds", "Time between a stream's chunks",
            ["model"], buckets=_TOKEN_GAP, registry=r)
        self.loads = Counter("hoshikage_model_loads", "Model loads, by result",
                             ["model", "result"], registry=r)
        self.load_seconds = Histogram("hoshikage_model_load_duration_seconds",
                                      "Time to load a model", ["model"], buckets=_LOAD,
                                      registry=r)
        self.unloads = Counter("hoshikage_model_unloads", "Model unloads, by reason",
                               ["model", "reason"], registry=r)
        self.unload_seconds = Histogram("hoshikage_model_unload_duration_seconds",
                                        "Time to unload a model", ["model"], buckets=_LOAD,
                                        registry=r)

    def watch_models(self, models: Callable[[], Iterable[ModelInfo]]) -> None:
        """Report model states (read at scrape time) from ``models()``."""
        self.registry.register(_ModelCollector(models))

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
