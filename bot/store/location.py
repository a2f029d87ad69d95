"""Where the store lives: an SQLite file (a path or sqlite:///...) or a PostgreSQL URL.

The one place that tells the two apart (`parse_location`), and the one that makes a URL safe to
print (`redact`): a password in `postgresql://user:pass@host/db` never reaches a log or an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

PG_SCHEMES = ("postgresql", "postgres")


class StoreLocationError(ValueError):
    """The location is neither a usable path nor a URL we understand (message is redacted)."""


class StoreUnavailableError(ConnectionError):
    """The database server cannot be reached or refuses us (message is redacted)."""


@dataclass(frozen=True, slots=True)
class StoreLocation:
    kind: Literal["sqlite", "postgresql"]
    target: str  # the file path, or the full URL (secret included: never print it, see `shown`)

    @property
    def shown(self) -> str:
        """What logs and messages may say about it."""
        return redact(self.target) if self.kind == "postgresql" else self.target

    def __repr__(self) -> str:  # a stray repr() in a log line must not leak the password either
        return f"StoreLocation({self.kind!r}, {self.shown!r})"


def parse_location(location: str | Path) -> StoreLocation:
    """`postgresql://...` / `postgres://...` -> PostgreSQL; `sqlite:///rel`, `sqlite:////abs`
    or any other string -> an SQLite file path."""
    if isinstance(location, Path):
        return StoreLocation("sqlite", str(location.expanduser()))
    text = location.strip()
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme in PG_SCHEMES:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (parsed here: "host:abc" raises ValueError)
        except ValueError as e:  # neither the URL nor urllib's message (it quotes a part of
            # the URL, which may be the password's) is shown: only what kind of mistake it is
            what = (
                "a [ without its ]"
                if "IPv6" in str(e)
                else "a port outside 0-65535"
                if "range" in str(e)
                else "a port that is not a number"
            )
            raise StoreLocationError(
                f"malformed PostgreSQL URL ({what}): write postgresql://user:password@host:5432/db "
                "and percent-encode @ : / [ ] in the password"
            ) from None
        if not parts.hostname and "host=" not in parts.query:
            raise StoreLocationError(f"PostgreSQL URL without a host: {redact(text)}")
        return StoreLocation("postgresql", text)
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        if not path:
            raise StoreLocationError(
                "an SQLite URL looks like sqlite:///data/liqbot.sqlite3 (relative) or "
                "sqlite:////var/lib/liqbot/liqbot.sqlite3 (absolute)"
            )
        return StoreLocation("sqlite", str(Path(path).expanduser()))
    if scheme:
        raise StoreLocationError(
            f"unknown storage URL scheme {scheme!r}: use postgresql://user:pass@host:port/db, "
            "sqlite:///path or a file path"
        )
    if not text:
        raise StoreLocationError("the storage location is empty")
    return StoreLocation("sqlite", str(Path(text).expanduser()))


_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@", re.I)
_QUERY_PW = re.compile(r"(?P<key>[?&]password=)[^&]*", re.I)


def redact(text: str) -> str:
    """The URL (or any message quoting it) with its password replaced by ***."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _QUERY_PW.sub(lambda m: f"{m['key']}***", text)


def secrets_of(location: str) -> tuple[str, ...]:
    """The password(s) in a URL, for the log filter that masks every secret."""
    found = [m["pw"] for m in _USERINFO.finditer(location) if m["pw"]]
    found += [v.split("&", 1)[0] for v in re.findall(r"[?&]password=([^&]+)", location, re.I)]
    return tuple(found)
