"""The prompt cache and speculative decoding as clients see them, through the official
SDKs against a real server (SmolLM2 with one slot, so every other session evicts
the last): cached tokens in each dialect's usage, draft counts in OpenAI's, and
both in /metrics."""

from __future__ import annotations

import re
import uuid

import anthropic
import httpx
import openai
import pytest

from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model


def system_prompt() -> str:
    tag = uuid.uuid4().hex[:8]  # nothing another test left in the caches starts like this
    return f"Session rules {tag}. " + " ".join(
        f"Rule {i}: answer briefly and name one fact." for i in range(15))


def counter(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    match = re.search(rf'^{name}{{model="smollm2"}} ([\d.e+]+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_session_whose_slot_was_taken_comes_back_cached(dialect_server: RunningServer
                                                          ) -> None:
    client = openai.OpenAI(base_url=f"{dialect_server.url}/v1", api_key="x", max_retries=0)
    system = system_prompt()
    before = counter(dialect_server, "hoshikage_cached_prompt_tokens_total")

    def ask(messages: list[dict[str, str]]) -> tuple[str, int, int]:
        reply = client.chat.completions.create(model="smollm2", messages=messages,  # type: ignore[arg-type]
                                               max_tokens=8, temperature=0)
        usage = reply.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        return (reply.choices[0].message.content or "", usage.prompt_tokens,
                usage.prompt_tokens_details.cached_tokens or 0)

    ann = [{"role": "system", "content": system}, {"role": "user", "content": "Ann: a river?"}]
    answer, ann_prompt, _ = ask(ann)
    ask([{"role": "system", "content": system}, {"role": "user", "content": "Bob: a hill?"}])
    ann += [{"role": "assistant", "content": answer}, {"role": "user", "content": "And a lake?"}]
    _, _, cached = ask(ann)
    assert cached >= ann_prompt  # all of Ann's first turn, back from host memory
    assert counter(dialect_server, "hoshikage_cached_prompt_tokens_total") - before >= cached


def test_anthropic_usage_reports_the_cache_read(dialect_server: RunningServer) -> None:
    client = anthropic.Anthropic(base_url=dialect_server.url, api_key="x", max_retries=0)
    system = system_prompt()
    first = client.messages.create(model="smollm2", max_tokens=8, system=system,
                                   messages=[{"role": "user", "content": "Cy: a tree?"}],
                                   extra_body={"temperature": 0})
    client.messages.create(model="smollm2", max_tokens=8, system=system,
                           messages=[{"role": "user", "content": "Di: a bird?"}],
                           extra_body={"temperature": 0})
    text = "".join(b.text for b in first.content if b.type == "text")
    again = client.messages.create(
        model="smollm2", max_tokens=8, system=system, extra_body={"temperature": 0},
        messages=[{"role": "user", "content": "Cy: a tree?"},
                  {"role": "assistant", "content": text},
                  {"role": "user", "content": "And a flower?"}])
    total_first = first.usage.input_tokens + (first.usage.cache_read_input_tokens or 0)
    assert (again.usage.cache_read_input_tokens or 0) >= total_first


def test_a_copying_answer_reports_accepted_drafts(dialect_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{dialect_server.url}/v1", api_key="x", max_retries=0)
    drafted = counter(dialect_server, "hoshikage_draft_tokens_total")
    text = ("The old bridge crossed the river at its narrowest point, where the water ran "
            "fast over smooth grey stones and the willows leaned low over both banks.")
    reply = client.completions.create(model="smollm2", prompt=f"{text}\n\n{text}\n\n{text[:40]}",
                                      max_tokens=40, temperature=0)
    usage = reply.usage
    assert usage is not None and usage.completion_tokens_details is not None
    accepted = usage.completion_tokens_details.accepted_prediction_tokens or 0
    rejected = usage.completion_tokens_details.rejected_prediction_tokens or 0
    assert accepted > 0
    assert counter(dialect_server, "hoshikage_draft_tokens_total") - drafted == \
        accepted + rejected
