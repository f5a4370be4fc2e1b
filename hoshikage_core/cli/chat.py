"""``hoshikage chat``: a conversation with a model in the terminal, streamed.

On a terminal it is interactive (line editing and history through readline);
with stdin from a pipe or file, each line (or triple-quoted block) is one
message and only the answers are printed, so it also works in scripts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import click

from .output import EXIT_FAILURE, err_console, fail
from .remote import ServerClient, ServerError, model_path, server_options
from .shell import complete_model_names
from .status import load_with_progress

__all__ = ["chat"]

HELP = """Commands:
  /clear          forget the conversation (the system prompt stays)
  /system TEXT    set the system prompt and start over
  /exit, /bye     leave (Ctrl-D does too)
  \"\"\"             begin or end a message of several lines
Ctrl-C stops an answer while it streams."""

QUIT = {"/exit", "/quit", "/bye"}


@dataclass
class Conversation:
    """The turns so far, as sent to ``/v1/chat/completions``."""

    system: str | None = None
    turns: list[dict[str, str]] = field(default_factory=list)

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.turns


@dataclass(frozen=True)
class Answer:
    text: str
    stopped: bool  # by Ctrl-C
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds_to_first: float | None
    seconds_after_first: float | None


def messages_from(lines: Iterator[str], prompt: Any) -> Iterator[str]:
    """User inputs: single lines, or blocks between lines of three double quotes."""
    for line in lines:
        if not line.strip():
            continue
        if line.lstrip().startswith('"""'):
            block = [line.lstrip()[3:]]
            while not block[-1].rstrip().endswith('"""'):
                try:
                    block.append(next(lines) if prompt is None else prompt("... "))
                except StopIteration:
                    break
            text = "\n".join(block).rstrip()
            yield text.removesuffix('"""').strip()
        else:
            yield line.strip()


def _lines(stream: TextIO) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


def _typed_lines() -> Iterator[str]:
    while True:
        try:
            yield input(">>> ")
        except KeyboardInterrupt:
            click.echo("\n(Use /bye or Ctrl-D to leave.)", err=True)
        except EOFError:
            click.echo(err=True)
            return


def stream_answer(client: ServerClient, body: dict[str, Any], out: TextIO) -> Answer:
    """Send one chat request and write the answer to ``out`` as it streams."""
    parts: list[str] = []
    usage: dict[str, int] = {}
    started = time.perf_counter()
    first: float | None = None
    stopped = False
    try:
        with client.events("/v1/chat/completions", body) as events:
            for payload in events:
                if payload.get("usage"):
                    usage = payload["usage"]
                for choice in payload.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        first = first or time.perf_counter()
                        parts.append(text)
                        out.write(text)
                        out.flush()
    except KeyboardInterrupt:  # leaving the block closed the stream: the server stops
        stopped = True
    end = time.perf_counter()
    return Answer("".join(parts), stopped, usage.get("prompt_tokens"),
                  usage.get("completion_tokens"), first and first - started,
                  first and end - first)


def _stats(answer: Answer) -> str:
    if answer.completion_tokens is None:  # stopped before the usage came
        return "stopped"
    text = f"{answer.prompt_tokens} prompt + {answer.completion_tokens} generated tokens"
    if answer.seconds_to_first is not None:
        text += f", first after {answer.seconds_to_first:.2f}s"
    if answer.completion_tokens and answer.completion_tokens > 1 and answer.seconds_after_first:
        rate = (answer.completion_tokens - 1) / answer.seconds_after_first
        text += f", {rate:.1f} tokens/s"
    return text


@click.command()
@click.argument("model", default="default", shell_complete=complete_model_names)
@click.option("--system", "-s", help="A system prompt.")
@click.option("--temperature", "-t", type=click.FloatRange(0, 2), help="Sampling temperature.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@click.option("--seed", type=int, help="Sampling seed, for answers that repeat.")
@click.option("--verbose", "-v", is_flag=True, help="After each answer: tokens and speed.")
@server_options
def chat(model: str, system: str | None, temperature: float | None, max_tokens: int | None,
         seed: int | None, verbose: bool, url: str, api_key: str | None) -> None:
    """Chat with MODEL (default: the model aliased "default") on a running server.

    Answers stream as they are generated. Type /help in the chat for its
    commands; Ctrl-C stops an answer, Ctrl-D leaves. With stdin from a pipe,
    each line is a message and only the answers are printed.

    \b
    Examples:
      hoshikage chat
      hoshikage chat smollm2 --system "Answer in one sentence." -v
      echo "What is the capital of France?" | hoshikage chat --seed 1
    """
    client = ServerClient(url, api_key)
    interactive = sys.stdin.isatty()
    try:
        info = client.request("GET", f"/v1/models/{model_path(model)}")
    except ServerError as exc:
        fail(exc.message, EXIT_FAILURE)
    console = err_console()
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        if info.get("state") not in (None, "ready"):
            load_with_progress(client, model)
        console.print(f"Chatting with [bold]{info['id']}[/] at {client.base}. "
                      "Type /help for commands, Ctrl-D to leave.")
    conversation = Conversation(system=system)
    sampling = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens),
                                  ("seed", seed)) if v is not None}
    inputs = _typed_lines() if interactive else _lines(sys.stdin)
    prompt = input if interactive else None
    for text in messages_from(inputs, prompt):
        command, _, rest = text.partition(" ")
        if command in QUIT:
            break
        if command == "/help":
            console.print(HELP, markup=False)
            continue
        if command in ("/clear", "/system"):
            system = conversation.system
            if command == "/system":
                system = rest.strip() or None
            conversation = Conversation(system=system)
            console.print("(system prompt set; conversation cleared)" if command == "/system"
                          else "(conversation cleared)", style="dim")
            continue
        conversation.turns.append({"role": "user", "content": text})
        body = {"model": model, "messages": conversation.messages(), "stream": True,
                "stream_options": {"include_usage": True}, **sampling}
        try:
            answer = stream_answer(client, body, sys.stdout)
        except ServerError as exc:
            conversation.turns.pop()
            if not interactive:
                fail(exc.message, EXIT_FAILURE)
            console.print(f"\nerror: {exc.message}", style="red", markup=False)
            continue
        sys.stdout.write("\n")
        if answer.stopped:
            console.print("(stopped)", style="dim")
        conversation.turns.append({"role": "assistant", "content": answer.text})
        if verbose:
            console.print(_stats(answer), style="dim", markup=False)
