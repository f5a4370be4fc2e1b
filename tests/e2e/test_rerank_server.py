"""``/v1/rerank`` on a real server: a tiny GGUF that declares rank pooling, scored by
real llama.cpp rank pooling. Its weights are random, so these tests prove the
plumbing (order, top_n, documents, consistency, errors), not ranking quality."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_api_errors import assert_openai_error
from tests.conftest import RunningServer

pytestmark = pytest.mark.real_model

DOCUMENTS = ["A cat is a small animal.", "Cars are fast.", "A cat is a small animal.",
             "Paris is in France."]


def rerank(server: RunningServer, path: str = "/v1/rerank", **body: object) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json={"model": "ranker", "query": "What is a cat?",
                                                   **body}, timeout=60)


def test_documents_come_back_most_relevant_first(dialect_server: RunningServer) -> None:
    reply = rerank(dialect_server, documents=DOCUMENTS)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    results = body["results"]
    assert body["model"] == "ranker" and body["usage"]["prompt_tokens"] > 4 * 10
    assert sorted(r["index"] for r in results) == [0, 1, 2, 3]
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    by_index = {r["index"]: r["relevance_score"] for r in results}
    assert by_index[0] == by_index[2]  # the same pair, the same score
    assert len(set(by_index.values())) == 3  # and different pairs differ
    assert all("document" not in r for r in results)
    alone = rerank(dialect_server, documents=[DOCUMENTS[3]]).json()["results"]
    assert alone[0]["relevance_score"] == pytest.approx(by_index[3], abs=1e-5)


def test_top_n_documents_and_the_short_path(dialect_server: RunningServer) -> None:
    full = rerank(dialect_server, documents=DOCUMENTS).json()["results"]
    top = rerank(dialect_server, "/rerank", top_n=2, return_documents=True,
                 documents=[{"text": d} for d in DOCUMENTS]).json()["results"]
    assert [r["index"] for r in top] == [r["index"] for r in full[:2]]
    assert [r["document"]["text"] for r in top] == [DOCUMENTS[r["index"]] for r in top]


def test_models_that_cannot_rank_and_bad_requests(dialect_server: RunningServer) -> None:
    not_a_ranker = rerank(dialect_server, model="default", documents=DOCUMENTS)
    error = assert_openai_error(not_a_ranker, 400)
    assert error["param"] == "model" and "not a reranker" in error["message"]
    assert_openai_error(rerank(dialect_server, documents=[]), 400)
    assert_openai_error(rerank(dialect_server, model="nope", documents=DOCUMENTS), 404)
    embed = httpx.post(f"{dialect_server.url}/v1/embeddings",
                       json={"model": "ranker", "input": "x"})
    assert "reranker" in assert_openai_error(embed, 400)["message"]


def test_a_reranker_writes_no_text(dialect_server: RunningServer) -> None:
    chat = httpx.post(f"{dialect_server.url}/v1/chat/completions", json={
        "model": "ranker", "messages": [{"role": "user", "content": "Hi"}]})
    assert "reranker" in assert_openai_error(chat, 400)["message"]
