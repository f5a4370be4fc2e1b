"""The upstream backend passes the same conformance suite as the built-in ones."""

from __future__ import annotations

import pytest

from hoshikage_core.testing.conformance import BackendConformance, ConformanceSetup
from hoshikage_core.testing.server import RunningServer


@pytest.mark.real_model  # the upstream is a real server with the tiny llama.cpp model
class TestUpstreamConformance(BackendConformance):
    @pytest.fixture
    def conformance(self, upstream_server: RunningServer, dead_url: str) -> ConformanceSetup:
        return ConformanceSetup(
            config={"models": {
                "remote": {"backend": "upstream",
                           "options": {"base_urls": [f"{upstream_server.url}/v1"],
                                       "model": "tiny"}},
                "unreachable": {"backend": "upstream", "options": {"base_urls": [dead_url]}},
            }},
            model="remote", prompt="Hello", broken_model="unreachable")
