"""What a model's config adds to a request: sampling defaults, the max_tokens limit."""

from __future__ import annotations

import dataclasses

from ..errors import InvalidRequestError
from ..types import GenerationRequest
from .state import ManagedModel

__all__ = ["with_model_defaults"]


def with_model_defaults(request: GenerationRequest, model: ManagedModel) -> GenerationRequest:
    """Fill the fields the request left out from ``[models.NAME.sampling]``, and hold
    ``max_tokens`` to the model's ``max_tokens_limit``."""
    defaults = model.config.sampling.as_request_defaults()
    missing = {k: v for k, v in defaults.items() if getattr(request, k) is None}
    request = dataclasses.replace(request, model=model.name, **missing)
    limit = model.settings.max_tokens_limit
    if limit is not None:
        if request.max_tokens is None:
            request = dataclasses.replace(request, max_tokens=limit)
        elif request.max_tokens > limit:
            raise InvalidRequestError(
                f"max_tokens is {request.max_tokens}, more than model '{model.name}' allows "
                f"({limit}, its max_tokens_limit).", param="max_tokens")
    return request

