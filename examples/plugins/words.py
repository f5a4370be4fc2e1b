"""A toy Hoshikage backend: it "continues" any prompt with the words of a text file."""

from hoshikage_core import ContextLengthExceededError, MaxTokensTooLargeError, Usage, hookimpl
from hoshikage_core.kit.text import TokenTextStream

CONTEXT = 1000  # words this "model" takes in and writes out


@hookimpl
def hoshikage_load(model):
    return model.path.read_text().split()  # the handle: the file's words


@hookimpl
def hoshikage_generate(handle, request):
    prompt = request.prompt if request.prompt is not None else request.messages[-1].content
    words = prompt.split()
    if len(words) > CONTEXT:
        raise ContextLengthExceededError(len(words), CONTEXT)  # a 400 for the client
    MaxTokensTooLargeError.check(request.max_tokens, CONTEXT)  # 400 if it asks for more
    limit = request.max_tokens or 50
    text = TokenTextStream(request.stop)  # cuts at stop sequences, never leaks part of one
    sent = 0
    while sent < limit and not text.stopped:
        chunk = text.push(f" {handle[(len(words) + sent) % len(handle)]}".encode())
        sent += 1
        if chunk:
            yield chunk
    reason = "length" if sent == limit and not text.stopped else "stop"
    yield text.finish(reason, Usage(prompt_tokens=len(words), completion_tokens=sent))


@hookimpl
def hoshikage_unload(handle):
    handle.clear()
