"""Suite-wide: a $PORT in the environment (a CI platform's) must not give every service a test
builds the same HTTP port; tests that want a server set the port themselves."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_inherited_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
