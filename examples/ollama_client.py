"""Talk to a running Hoshikage with the official ollama SDK: the models it serves, a
streamed chat, and an answer shaped by a pydantic model (format = its JSON schema).

    hoshikage run &
    python examples/ollama_client.py "What is the capital of France?"

HOSHIKAGE_URL (default http://127.0.0.1:3030/v1) and HOSHIKAGE_API_KEY set where to
connect and which key to send; the ollama SDK wants the server's root URL. Against
`[server] ollama_port = 11434`, plain `ollama.Client()` finds it without a host.
"""

from __future__ import annotations

import os
import sys

import ollama
from pydantic import BaseModel


class City(BaseModel):
    name: str
    country: str
    population: int


def main() -> None:
    url = os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1").removesuffix("/v1")
    key = os.environ.get("HOSHIKAGE_API_KEY")
    client = ollama.Client(host=url, headers={"Authorization": f"Bearer {key}"} if key else None)
    print("models:", ", ".join(m.model or "" for m in client.list().models))

    question = " ".join(sys.argv[1:]) or "What is the capital of France? Answer in one word."
    for part in client.chat(model="default", messages=[{"role": "user", "content": question}],
                            stream=True, options={"temperature": 0, "num_predict": 64}):
        print(part.message.content or "", end="", flush=True)
        if part.done:
            print(f"\n[{part.done_reason}: {part.eval_count} tokens]")

    # format: a JSON schema the answer must meet (a llama.cpp grammar holds it to it)
    reply = client.chat(model="default", format=City.model_json_schema(),
                        messages=[{"role": "user", "content": "Describe Paris."}],
                        options={"temperature": 0, "num_predict": 80})
    print("city:", repr(City.model_validate_json(reply.message.content or "")))


if __name__ == "__main__":
    main()
