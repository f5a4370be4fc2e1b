"""How Hoshikage does on llama.cpp's corpus of real chat templates.

Each template of ``models/templates/`` in the llama.cpp sources (read from the
llama-cpp-python sdist, downloaded once into pip's cache and ~/.cache) goes into a
tiny generated GGUF; one ``hoshikage run`` serves them all, and the official
``openai`` SDK asks each model, over HTTP:

- **conversation**: a tool-using chat (system, user, an assistant turn with
  ``tool_calls``, a ``tool`` result, user) with tools offered: answered (200)?
- **required**: ``tool_choice: "required"`` with an enum-limited parameter: does
  the answer come back as a parsed ``tool_calls`` entry with valid arguments?
- **reasoning**: for templates whose generation prompt opens a think block
  (seen through ``/apply-template``), is the answer's thinking separated into
  ``reasoning_content`` rather than left in ``content``?

    python bench/template_corpus.py                 # the table, and the three counts
    python bench/template_corpus.py --only Qwen     # templates whose file name has this

The random-weight model writes noise; constrained output keeps the checks meaningful.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import httpx
import openai

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hoshikage_core.testing.server import start_server, stop_server  # noqa: E402
from hoshikage_core.testing.tiny_gguf import write_tiny_gguf  # noqa: E402

CACHE = Path.home() / ".cache" / "hoshikage" / "llama-cpp-python-sdist"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "enum": ["Paris", "Oslo"]}}, "required": ["city"]}}}
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"},
    {"role": "user", "content": "Thanks! And in Oslo?"},
]
NO_EOS = {"2": -100}


def corpus_dir(version: str) -> Path:
    """The templates folder of llama-cpp-python ``version``'s sdist (downloaded once)."""
    folder = CACHE / version
    templates = folder / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp" / "models" \
        / "templates"
    if templates.is_dir():
        return templates
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", f"llama-cpp-python=={version}", "-d", str(folder)], check=True,
                   capture_output=True)
    archive = next(folder.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/models/templates/" in m.name]
        tar.extractall(folder, members=members, filter="data")
    return templates


def thinks(prompt: str) -> bool:
    """Whether a rendered prompt ends inside an open think block."""
    tail = prompt[prompt.rfind("Thanks! And in Oslo?"):]
    for opening, closing in (("<think>", "</think>"), ("<|channel|>analysis", "<|end|>"),
                             ("[THINK]", "[/THINK]"), ("<seed:think>", "</seed:think>"),
                             ("<|START_THINKING|>", "<|END_THINKING|>"),
                             ("<|open|>think", "<|close|>think"),
                             ("Here are my reasoning steps", "[BEGIN FINAL RESPONSE]")):
        if opening in tail and closing not in tail[tail.rfind(opening):]:
            return True
    return False


def measure(name: str, client: openai.OpenAI, url: str) -> dict[str, Any]:
    row: dict[str, Any] = {"template": name}
    try:
        reply = client.chat.completions.create(
            model=name, messages=CONVERSATION, tools=[WEATHER],  # type: ignore[list-item]
            max_tokens=8, temperature=0, extra_body={"logit_bias": NO_EOS})
        row["conversation"] = reply.choices[0].finish_reason in ("stop", "length",
                                                                 "tool_calls")
    except openai.APIError as exc:
        row["conversation"] = False
        row["conversation_error"] = str(exc)[:200]
    try:
        reply = client.chat.completions.create(
            model=name, messages=CONVERSATION[:2], tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="required", max_tokens=200, temperature=0)
        calls = reply.choices[0].message.tool_calls or []
        row["required"] = bool(calls) and calls[0].function.name == "get_weather" and \
            json.loads(calls[0].function.arguments).get("city") in ("Paris", "Oslo")
    except (openai.APIError, ValueError) as exc:
        row["required"] = False
        row["required_error"] = str(exc)[:200]
    shown = httpx.post(f"{url}/apply-template", timeout=120, json={
        "model": name, "messages": CONVERSATION, "tools": [WEATHER]})
    row["opens_think"] = shown.status_code == 200 and thinks(shown.json()["prompt"])
    if row["opens_think"]:
        try:
            reply = client.chat.completions.create(
                model=name, messages=CONVERSATION, max_tokens=16, temperature=0,
                extra_body={"logit_bias": NO_EOS})
            message = reply.choices[0].message.model_dump()
            row["reasoning"] = bool(message.get("reasoning_content")) and \
                "<think>" not in (message.get("content") or "")
        except openai.APIError as exc:
            row["reasoning"] = False
            row["reasoning_error"] = str(exc)[:200]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="templates whose file name has this")
    parser.add_argument("--corpus", type=Path, help="a templates folder (default: the sdist's)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    version = importlib.metadata.version("llama-cpp-python")
    folder = args.corpus or corpus_dir(version)
    templates = sorted(p for p in folder.glob("*.jinja") if args.only in p.name)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = ["[defaults]\nmax_loaded_models = 2\nidle_timeout = -1\n"]
        names = []
        for template in templates:
            name = template.stem.replace(".", "_")
            gguf = write_tiny_gguf(work / f"{name}.gguf", context_length=16384,
                                   chat_template=template.read_text())
            names.append(name)
            lines.append(f'[models."{name}"]\npath = "{gguf}"\n'
                         f'[models."{name}".options]\nn_ctx = 16384\n')
        config = work / "corpus.toml"
        config.write_text("\n".join(lines))
        server = start_server(config, work / "server.log")
        try:
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0,
                                   timeout=300)
            rows = [measure(name, client, server.url) for name in names]
        finally:
            stop_server(server)
    width = max(len(r["template"]) for r in rows)
    print(f"{'template':<{width}}  conversation  required  think  reasoning")
    for r in rows:
        think = "yes" if r["opens_think"] else "-"
        reasoning = ("ok" if r.get("reasoning") else "NO") if r["opens_think"] else "-"
        print(f"{r['template']:<{width}}  {'ok' if r['conversation'] else 'NO':<12}  "
              f"{'ok' if r['required'] else 'NO':<8}  {think:<5}  {reasoning}")
    thinking = [r for r in rows if r["opens_think"]]
    print(f"\nconversation answered: {sum(r['conversation'] for r in rows)} of {len(rows)}")
    print(f"required calls parsed: {sum(r['required'] for r in rows)} of {len(rows)}")
    print(f"reasoning separated: {sum(bool(r.get('reasoning')) for r in thinking)} of "
          f"{len(thinking)} templates that open a think block")
    for r in rows:
        for key in ("conversation_error", "required_error", "reasoning_error"):
            if key in r:
                print(f"  {r['template']}: {key.split('_')[0]}: {r[key]}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
