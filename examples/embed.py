"""Use Hoshikage as a library, no HTTP: load the bundled model and complete a prompt.

    python examples/embed.py
    python examples/embed.py path/to/hoshikage.toml   # your own config
"""

from __future__ import annotations

import asyncio
import sys

from hoshikage_core import Hoshikage
from hoshikage_core.config import default_config


async def main() -> None:
    config = sys.argv[1] if len(sys.argv) > 1 else default_config()
    async with Hoshikage(config) as hk:
        print("models:", ", ".join(m.id for m in hk.list_models()))

        result = await hk.complete("The capital of France is", model="default",
                                   max_tokens=16, temperature=0, stop=["\n"])
        print(f"completion: {result.text!r} ({result.finish_reason}, "
              f"{result.usage.completion_tokens} tokens)")

        answer = await hk.chat(
            [{"role": "user", "content": "Name a colour of the sky. One word."}],
            model="default", max_tokens=16, temperature=0)
        print(f"chat: {answer.text!r}")


if __name__ == "__main__":
    asyncio.run(main())
