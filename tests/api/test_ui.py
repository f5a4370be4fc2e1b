"""The built-in page's files: served from the package, offline, under a strict CSP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from hoshikage_core import Hoshikage, create_app
from tests.api.test_api_errors import assert_openai_error
from tests.fakes import EchoBackend


def config(tmp_path: Path, **server: object) -> dict[str, object]:
    model_file = tmp_path / "m.bin"
    model_file.write_bytes(b"x")
    return {"server": server, "models": {"echo": {"backend": "echo", "path": str(model_file)}}}


async def client(hk: Hoshikage) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hk)),
                             base_url="http://t")


async def test_page_and_assets_are_served_with_a_strict_policy(tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path), plugins={"echo": EchoBackend()}) as hk:
        async with await client(hk) as http:
            page = await http.get("/")
            assert page.status_code == 200 and page.headers["content-type"].startswith(
                "text/html")
            policy = page.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "connect-src 'self'" in policy
            assert "default-src 'none'" in policy and "unsafe" not in policy
            assert page.headers["x-content-type-options"] == "nosniff"
            for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
                assert src.startswith(("ui/", "data:")), src  # relative: works under a mount
                if src.startswith("ui/"):
                    asset = await http.get(f"/{src}")
                    assert asset.status_code == 200 and asset.content
            assert "<script>" not in page.text and " on" + "click=" not in page.text
            script = (await http.get("/ui/app.js")).text
            assert script.count("fetch(") >= 2 and "innerHTML" not in script
            assert_openai_error(await http.get("/ui/../pyproject.toml"), 404)
            assert_openai_error(await http.get("/ui/secrets.txt"), 404)
            assert "/" not in (await http.get("/openapi.json")).json()["paths"]


@pytest.mark.parametrize("name", ["index.html", "app.js", "style.css"])
def test_assets_reach_nothing_outside_the_server(name: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "hoshikage_core" / "api" / "ui"
            / name).read_text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
    assert "@import" not in text


async def test_the_page_can_be_turned_off(tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path, ui=False), plugins={"echo": EchoBackend()}) as hk:
        async with await client(hk) as http:
            assert_openai_error(await http.get("/"), 404)
            assert (await http.get("/health")).status_code == 200


async def test_with_keys_the_page_holds_no_data_and_the_api_wants_the_key(
        tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path, api_keys=["a-long-key-1"]),
                         plugins={"echo": EchoBackend()}) as hk:
        async with await client(hk) as http:
            page = await http.get("/")
            assert page.status_code == 200 and "echo" not in page.text
            assert_openai_error(await http.get("/admin/models"), 401)
            keyed = await http.get("/admin/models",
                                   headers={"Authorization": "Bearer a-long-key-1"})
            assert keyed.json()["data"][0]["id"] == "echo"


async def test_the_schema_declares_what_each_route_really_answers(tmp_path: Path) -> None:
    async with Hoshikage(config(tmp_path), plugins={"echo": EchoBackend()}) as hk:
        paths = create_app(hk).openapi()["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert statuses("/health", "get") == {"200"}  # never fails, never needs a key
    assert statuses("/metrics", "get") == {"200", "401"}
    assert statuses("/v1/models/{model_id}", "get") == {"200", "401", "404"}
    assert {"400", "401", "404", "413", "500", "503"} <= statuses("/v1/chat/completions",
                                                                   "post")
    for path in ("/v1/chat/completions", "/v1/completions"):
        assert "text/event-stream" in paths[path]["post"]["responses"]["200"]["content"]
    load = paths["/admin/models/{model_id}/load"]["post"]["responses"]
    assert "application/x-ndjson" in load["200"]["content"] and "503" in load
    assert not any("422" in op["responses"] for item in paths.values() for op in item.values())
