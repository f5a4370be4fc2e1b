"""``[models.NAME.options]`` for ``backend = "upstream"``."""

from __future__ import annotations

from pydantic import Field, field_validator

from hoshikage_core.config.schema import Duration
from hoshikage_core.kit.options import BackendOptions

__all__ = ["UpstreamOptions"]


class UpstreamOptions(BackendOptions):
    base_urls: list[str] = Field(min_length=1, description="OpenAI base URLs, e.g. "
                                 "http://gpu-1:8000/v1")
    model: str | None = Field(None, min_length=1, description="the upstream's model name; "
                              "default: this model's name")
    api_key: str | None = None
    connect_timeout: Duration = 2.0
    read_timeout: Duration = 300.0
    unhealthy_for: Duration = Field(10.0, description="skip a server this long after it "
                                    "failed to connect")

    @field_validator("base_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        cleaned = []
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"expected http:// or https:// URLs; got {url!r}")
            url = url.rstrip("/")
            cleaned.append(url if url.endswith("/v1") else f"{url}/v1")
        return cleaned
