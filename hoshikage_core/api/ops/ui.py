"""The built-in page at ``/``: model status, load and unload, a streaming chat.

Three static files shipped in the package (``hoshikage_core/api/ui/``): no build
step, no CDN, nothing fetched from elsewhere, so it works offline. The page holds
no data; everything it shows comes from the API with the user's key, when keys
are set. ``[server] ui = false`` turns it off.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

router = APIRouter(include_in_schema=False)

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

# Only this server's own files and API; no inline code, no framing by other sites.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> bytes:
    return files("hoshikage_core.api").joinpath("ui").joinpath(name).read_bytes()


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: clients' "is it up?" (Claude Code)
async def page() -> Response:
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                    headers=HEADERS)


@router.get("/ui/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, f"No file /ui/{name} here.")
    return Response(_asset(name), media_type=ASSETS[name], headers=HEADERS)
