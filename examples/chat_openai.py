"""Talk to a running Hoshikage with the official openai SDK, streaming.

    hoshikage run &                       # in another terminal
    python examples/chat_openai.py "What is the capital of France?"

HOSHIKAGE_URL (default http://127.0.0.1:3030/v1) and HOSHIKAGE_API_KEY set
where to connect and which key to send.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI


def main() -> None:
    client = OpenAI(
        base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
        api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"),
    )
    question = " ".join(sys.argv[1:]) or "What is the capital of France? Answer in one word."
    stream = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": question}],
        temperature=0,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()


if __name__ == "__main__":
    main()
