"""Errors across Ray: a replica's ``HoshikageError`` reaches the front end as itself,
and Ray's own failures (a replica that died, every replica full) become clear ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hoshikage_core import errors
from hoshikage_core.errors import HoshikageError, QueueFullError

__all__ = ["RemoteError", "ReplicaFailedError", "from_ray", "pack", "packed", "unpack"]


class RemoteError(Exception):
    """A ``HoshikageError`` raised in a replica, as plain arguments Ray can pickle
    (errors with their own ``__init__`` arguments cannot be rebuilt by pickle)."""

    def __init__(self, kind: str, message: str, state: dict[str, Any]) -> None:
        super().__init__(kind, message, state)


class ReplicaFailedError(HoshikageError):
    """A replica stopped (its process or node died) while it answered (502)."""

    status_code = 502
    error_type = "server_error"
    code = "replica_failed"


def pack(exc: HoshikageError) -> RemoteError:
    return RemoteError(type(exc).__name__, exc.message, dict(vars(exc)))


@contextmanager
def packed() -> Iterator[None]:
    """In a replica: a ``HoshikageError`` raised inside leaves as a :class:`RemoteError`."""
    try:
        yield
    except HoshikageError as exc:
        raise pack(exc) from None


def unpack(remote: RemoteError) -> HoshikageError:
    """The replica's error again, of its own class where the core defines it."""
    kind, message, state = remote.args
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, HoshikageError)):
        cls = HoshikageError
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


def from_ray(exc: BaseException, model: str) -> HoshikageError | None:
    """What to tell the client for an exception a Ray call raised (None: not Ray's)."""
    cause = getattr(exc, "cause", None)  # Ray's wrapper of a replica's exception
    if isinstance(cause, RemoteError):
        return unpack(cause)
    if isinstance(exc, RemoteError) and len(exc.args) == 3:
        return unpack(exc)
    if isinstance(cause, HoshikageError):
        return cause
    from ray import exceptions as ray_errors
    from ray.serve.exceptions import BackPressureError

    if isinstance(exc, BackPressureError):
        full = QueueFullError(model, 0, 5)
        full.message = (f"Model '{model}' is busy: every replica is full and the "
                        "requests waiting for one reached max_queue. Retry in about 5 s.")
        return full
    if isinstance(exc, (ray_errors.RayActorError, ray_errors.ActorUnavailableError,
                        ray_errors.ObjectLostError, ray_errors.NodeDiedError)):
        return ReplicaFailedError(
            f"The replica of model '{model}' that was answering stopped ({type(exc).__name__}); "
            "the cluster replaces it. Retry the request.")
    if isinstance(exc, ray_errors.RayError):
        return ReplicaFailedError(f"Model '{model}' failed on the cluster: {exc}")
    return None
