"""JSON that is guaranteed to match a schema: the openai SDK's parse() with pydantic.

    hoshikage run &
    python examples/structured_output.py
"""

from __future__ import annotations

import os

from openai import OpenAI
from pydantic import BaseModel


class City(BaseModel):
    name: str
    country: str
    population: int


def main() -> None:
    client = OpenAI(base_url=os.environ.get("HOSHIKAGE_URL", "http://127.0.0.1:3030/v1"),
                    api_key=os.environ.get("HOSHIKAGE_API_KEY", "not-needed"))
    reply = client.chat.completions.parse(
        model="default",
        messages=[{"role": "user", "content": "Describe Paris."}],
        response_format=City,  # enforced by a llama.cpp grammar: always parses
        temperature=0,
    )
    city = reply.choices[0].message.parsed
    print(repr(city))


if __name__ == "__main__":
    main()
