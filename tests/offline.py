"""The live sources a test switches off, named in one place.

Tests never reach the internet, so a test that builds the service from a Config turns off every
live source it does not point at a fake. The list follows the config model: a new venue added to
`sources:` is off in every such test without editing them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bot.config import SourcesConfig

# every source with a network endpoint; `replay` reads a file (plain keys such as
# max_event_usd are settings, not sources)
LIVE_SOURCES: tuple[str, ...] = tuple(
    n
    for n, f in SourcesConfig.model_fields.items()
    if n != "replay" and isinstance(f.default, BaseModel)
)


def sources_off(**on: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`sources:` with every live source off, except those given (their sections, as is)."""
    return {n: {"enabled": False} for n in LIVE_SOURCES} | on
