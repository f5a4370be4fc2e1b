"""Embeddings with the openai SDK: which sentence is closest to the query?

    hoshikage run &
    python examples/embeddings.py
"""

from __future__ import annotations

import os

from openai import OpenAI


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    documents = ["The cat sat on the mat.", "Stock markets fell sharply today.",
                 "A kitten is sleeping on the rug."]
    query = "Where is the cat?"
    result = client.embeddings.create(model="default", input=[query, *documents])
    vectors = [d.embedding for d in result.data]  # unit length: dot product = cosine
    scores = [sum(a * b for a, b in zip(vectors[0], v)) for v in vectors[1:]]
    for score, text in sorted(zip(scores, documents), reverse=True):
        print(f"{score:.3f}  {text}")


if __name__ == "__main__":
    main()
