"""The agent workloads of one benchmark run: sessions, edit and long prompt, each
contender at its best settings, and the figures from the run that explain them."""

from __future__ import annotations

import statistics
from typing import Any

import httpx
import openai
from contenders import (
    LLAMA_SERVER_NGRAM,
    HttpServer,
    Raw,
    Settings,
    raw_with_cache,
    raw_with_lookup,
)
from workloads import (
    HttpTarget,
    RawTarget,
    by_turn,
    chatml,
    decode_cost,
    edit,
    long_document,
    long_prompt,
    sessions,
)

__all__ = ["agent_workloads"]


def agent_workloads(servers: list[HttpServer], extra: list[HttpServer],
                    clients: dict[str, openai.OpenAI], raw: Raw, settings: Settings,
                    short: bool, rounds: int) -> dict[str, Any]:
    """Sessions, edit and long-prompt workloads; each contender at its best settings."""
    for server in extra:
        clients[server.name] = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0,
                                             timeout=600)
    http = {s.name: HttpTarget(s.name, clients[s.name], s.model)
            for s in [*servers, *extra] if s.name != "llama-cpp-python server"}
    peers = [http["hoshikage"], *([http["llama-server"]] if "llama-server" in http else [])]
    cached = raw_with_cache(settings)
    results: dict[str, Any] = {}
    before = counters(servers[0])
    try:
        count, turns = (5, 2) if short else (8, 4)
        results["sessions"] = by_turn(sessions(
            [*peers, RawTarget("raw llama-cpp-python, RAM cache", cached, reset=False)],
            count=count, turns=turns, answer_tokens=8 if short else 24))
    finally:
        cached.close()
    after = counters(servers[0])
    results["sessions_evaluated"] = [
        (after["hoshikage_prompt_tokens_total"] - before["hoshikage_prompt_tokens_total"])
        - (after["hoshikage_cached_prompt_tokens_total"]
           - before["hoshikage_cached_prompt_tokens_total"]), count * turns]
    lookup = raw_with_lookup(settings)
    try:
        edits = edit([*http.values(), RawTarget("raw llama-cpp-python, prompt lookup", lookup,
                                                reset=False),
                      RawTarget(raw.name, raw.llama, reset=True)],
                     rounds=1 if short else max(3, rounds), max_tokens=48 if short else 256)
    finally:
        lookup.close()
    results["edit"] = {name: {"rate_p50": statistics.median(r.rate for r in replies),
                              "tokens": statistics.median(r.tokens for r in replies)}
                       for name, replies in edits.items()}
    lines = 10 if short else 170
    ttfts = long_prompt([*peers, RawTarget(raw.name, raw.llama, reset=True)],
                        rounds=1 if short else 3, lines=lines)
    results["long_prompt"] = {name: {"ttft_p50": statistics.median(values)}
                              for name, values in ttfts.items()}
    results["sessions_workload"] = (
        f"{count} sessions on 4 slots share a system prompt of about 890 tokens; each has "
        f"{turns} turns, asked round-robin (turn 1 of every session, then turn 2…), one "
        "request at a time; every answer goes back into its session's history. A slot "
        "that served another session has lost this one's turns: Hoshikage restores them "
        "from its host-memory prompt cache, llama-server from its `--cache-ram` cache, raw "
        "llama-cpp-python from a `LlamaRAMCache`.")
    results["edit_workload"] = (
        "\"Copy this paragraph exactly, but replace one word\": about 110 tokens of answer, "
        "nearly all of them in the prompt. Hoshikage drafts from the prompt (`speculation = "
        "\"ngram\"`, its default); llama-server runs with and without its n-gram speculation "
        f"(`{' '.join(LLAMA_SERVER_NGRAM)}`); raw llama-cpp-python with and without "
        "`LlamaPromptLookupDecoding`.")
    results["long_workload"] = (
        f"A new report of {lines} lines (about {lines * 23 + 50} tokens) every round, so "
        "nothing is cached, answered with 4 tokens: TTFT is prompt evaluation.")
    results["agent_notes"] = agent_notes(servers[0], raw, results, settings,
                                         lines=10 if short else 40)
    return results


def counters(hoshikage: HttpServer) -> dict[str, float]:
    """Hoshikage's token counters from its /metrics, summed over models."""
    metrics = httpx.get(hoshikage.url.removesuffix("/v1") + "/metrics", timeout=30).text
    return {name: sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                      if line.startswith(name + "{"))
            for name in ("hoshikage_draft_tokens_total", "hoshikage_accepted_draft_tokens_total",
                         "hoshikage_cached_prompt_tokens_total", "hoshikage_prompt_tokens_total")}


def agent_notes(hoshikage: HttpServer, raw: Raw, results: dict[str, Any],
                settings: Settings, lines: int) -> list[str]:
    """Figures from this run that explain the agent workloads' results."""
    counts = counters(hoshikage)
    costs = decode_cost(raw.llama, (1, 5, 9, 17))
    prompt = chatml([("user", long_document(99, lines) + "\n\nSummarize the report.")])
    flash = Raw(settings, flash_attn=True)
    try:  # the same prompt, evaluated with and without flash attention
        with_flash = RawTarget("flash", flash.llama, reset=True).complete(prompt, 1).ttft
    finally:
        flash.close()
    without_flash = RawTarget("plain", raw.llama, reset=True).complete(prompt, 1).ttft
    evaluated, requests = results.get("sessions_evaluated", [0, 0])
    drafted = counts["hoshikage_draft_tokens_total"]
    accepted = counts["hoshikage_accepted_draft_tokens_total"]
    ratio = ", ".join(f"{n} tokens {costs[n] / costs[1]:.1f}×" for n in (5, 9, 17))
    return [
        f"What a draft costs here: a llama.cpp decode of one token took {costs[1] * 1000:.1f} "
        f"ms after a 200-token prompt; a batch of {ratio} as long (all rows with logits, as "
        "a draft is checked). With a small model on a CPU every row costs nearly a step, "
        "so a draft pays only when nearly all of it is accepted, and Hoshikage sizes each "
        "draft from these measured costs and the request's recent acceptance.",
        f"Hoshikage over the whole run: {drafted:.0f} draft tokens checked, {accepted:.0f} "
        f"accepted ({accepted / max(drafted, 1):.0%}); "
        f"{counts['hoshikage_cached_prompt_tokens_total']:.0f} of "
        f"{counts['hoshikage_prompt_tokens_total']:.0f} prompt tokens came from cached cells.",
        f"Sessions: Hoshikage evaluated {evaluated:.0f} prompt tokens over {requests} "
        "requests, the shared system prompt once among them: each later request evaluated "
        "only its new question and the template's tokens around it, the rest came from "
        f"cached cells. At this run's {costs[17] / 17 * 1000:.1f} ms per token in a 17-token "
        "batch, that evaluation is most of each later turn's TTFT: what stands between "
        "these figures and lower ones is the machine's prompt speed, not cache misses.",
        f"Long prompt: Hoshikage runs a CPU model without flash attention (`flash_attn = "
        "\"auto\"`), llama-server with it. In this run raw llama-cpp-python evaluated a "
        f"~{lines * 23 + 50}-token prompt in {with_flash * 1000:.0f} ms with flash attention and "
        f"{without_flash * 1000:.0f} ms without; flash attention costs a CPU far more on "
        "every decode step and draft check once the context is long (see docs/caching.md), "
        "so Hoshikage gives up that share of prefill speed.",
    ]
