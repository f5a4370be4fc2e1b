"""Who may call: API keys from the config, a key file and the environment; safe binds."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping, Sequence

from ..config.schema import ServerConfig
from ..errors import ConfigError

__all__ = ["KEYS_ENV_VAR", "check_bind", "is_loopback", "key_matches", "resolve_api_keys"]

KEYS_ENV_VAR = "HOSHIKAGE_API_KEYS"
MIN_KEY_LENGTH = 8


def resolve_api_keys(server: ServerConfig, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every accepted key: ``api_keys``, the lines of ``api_keys_file`` (``#`` starts a
    comment) and the comma-separated ``$HOSHIKAGE_API_KEYS``."""
    keys = list(server.api_keys)
    if server.api_keys_file is not None:
        for line in server.api_keys_file.read_text().splitlines():
            key = line.split("#", 1)[0].strip()
            if key:
                keys.append(key)
    keys += [k.strip() for k in environ.get(KEYS_ENV_VAR, "").split(",") if k.strip()]
    short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
    if short:
        raise ConfigError(f"API keys must have at least {MIN_KEY_LENGTH} characters; "
                          f"{len(short)} do not (check api_keys_file and {KEYS_ENV_VAR})")
    return tuple(dict.fromkeys(keys))


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """Constant-time comparison against every key (no early exit on a match)."""
    given = presented.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(server: ServerConfig, keys: Sequence[str]) -> None:
    """Refuse to listen beyond loopback without keys, unless explicitly allowed."""
    if is_loopback(server.host) or keys or server.allow_insecure_public_bind:
        return
    raise ConfigError(
        f"Refusing to listen on {server.host} without API keys: anyone on the network could "
        "use your models. Set [server] api_keys (or api_keys_file, or HOSHIKAGE_API_KEYS), "
        "listen on 127.0.0.1, or set [server] allow_insecure_public_bind = true if you "
        "really mean it.")
