"""Errors that carry their OpenAI error shape.

Raise these from the core or from a backend; the API layer turns any
:class:`HoshikageError` into ``{"error": {"message", "type", "param", "code"}}``
with its ``status_code``. Other exceptions become a 500 ``server_error``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "ContextLengthExceededError",
    "HoshikageError",
    "InvalidConfigError",
    "InvalidRequestError",
    "MaxTokensTooLargeError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelTooLargeError",
    "PinnedModelsInTheWayError",
    "PluginError",
    "QueueFullError",
    "ShuttingDownError",
]


class HoshikageError(Exception):
    """Base class: an error a client can be told about."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if error_type is not None:
            self.error_type = error_type
        self.headers: dict[str, str] = {}
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI error body."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(HoshikageError):
    """The client sent something we cannot serve (400)."""

    status_code = 400
    error_type = "invalid_request_error"


class InvalidConfigError(InvalidRequestError):
    """A reload was asked for and the config file is invalid (400); the server keeps
    serving the config it had. The message names the file, the key, what was expected."""

    code = "invalid_config"


class MaxTokensTooLargeError(InvalidRequestError):
    """``max_tokens`` is more than the model's context window could ever hold (400).

    Backends raise it before generating; a ``max_tokens`` within the context but
    beyond what the prompt leaves is not an error: the answer ends at the end of
    the context with ``finish_reason = "length"``.
    """

    code = "invalid_value"

    def __init__(self, max_tokens: int, n_ctx: int) -> None:
        super().__init__(
            f"max_tokens is {max_tokens}, but this model's context window is {n_ctx} tokens "
            "(prompt and answer together), so it can never write that many. Ask for at most "
            f"{n_ctx}, or raise n_ctx in the model's options.",
            param="max_tokens",
        )

    @classmethod
    def check(cls, max_tokens: int | None, n_ctx: int) -> None:
        """Raise if ``max_tokens`` exceeds ``n_ctx``; for backend authors."""
        if max_tokens is not None and max_tokens > n_ctx:
            raise cls(max_tokens, n_ctx)


class ContextLengthExceededError(InvalidRequestError):
    """The prompt does not fit the model's context window (400)."""

    code = "context_length_exceeded"

    def __init__(self, prompt_tokens: int, n_ctx: int, *, param: str = "messages") -> None:
        super().__init__(
            f"This model's context window is {n_ctx} tokens; the prompt has "
            f"{prompt_tokens} tokens, which leaves no room to generate. "
            "Shorten the prompt or raise n_ctx in the model's options.",
            param=param,
        )
        self.prompt_tokens = prompt_tokens
        self.n_ctx = n_ctx


class ModelNotFoundError(HoshikageError):
    """No configured model has this name or alias (404)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model: str, available: list[str] | None = None) -> None:
        hint = f" Available models: {', '.join(available)}." if available else ""
        super().__init__(f"The model '{model}' does not exist.{hint}", param="model")
        self.model = model


class BackendUnavailableError(HoshikageError):
    """The model's backend is not installed or disabled (503)."""

    status_code = 503
    error_type = "server_error"
    code = "backend_unavailable"


class ModelLoadError(HoshikageError):
    """The backend failed to load the model (500)."""

    status_code = 500
    error_type = "server_error"
    code = "model_load_failed"


class BackendError(HoshikageError):
    """The backend failed while generating (500)."""

    status_code = 500
    error_type = "server_error"
    code = "backend_error"


class QueueFullError(HoshikageError):
    """Too many requests wait for this model already (503 + Retry-After)."""

    status_code = 503
    error_type = "server_error"
    code = "queue_full"

    def __init__(self, model: str, queued: int, retry_after: int) -> None:
        super().__init__(
            f"Model '{model}' is busy: {queued} requests are already waiting "
            f"(max_queue). Retry in about {retry_after} s."
        )
        self.headers = {"Retry-After": str(retry_after)}


class ModelTooLargeError(HoshikageError):
    """The model can never fit in the configured memory budget (500)."""

    status_code = 500
    error_type = "server_error"
    code = "model_exceeds_memory_budget"


class PinnedModelsInTheWayError(HoshikageError):
    """A model does not fit beside the pinned models, which never make room (503)."""

    status_code = 503
    error_type = "server_error"
    code = "pinned_models_in_the_way"


class ShuttingDownError(HoshikageError):
    """The server is stopping and takes no new work (503)."""

    status_code = 503
    error_type = "server_error"
    code = "shutting_down"


class ConfigError(Exception):
    """The configuration is wrong. ``str(err)`` is a message for the user."""


class PluginError(Exception):
    """A plugin is broken or two plugins collide. ``str(err)`` is for the user."""
