"""Suite-wide settings.

- Hypothesis profiles: "ci" (the default) and "nightly" (10,000+ sequences per stateful test).
  Pick one with `pytest --hypothesis-profile nightly` or `LIQBOT_HYPOTHESIS_PROFILE=nightly`.
- A $PORT in the environment (a CI platform's) must not give every service a test builds the
  same HTTP port; tests that want a server set the port themselves.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("ci", settings.get_profile("default"))
settings.register_profile("nightly", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("LIQBOT_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_inherited_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    # read above; a `liqbot run` the test starts would refuse it as an unknown LIQBOT_ key
    monkeypatch.delenv("LIQBOT_HYPOTHESIS_PROFILE", raising=False)


_LOCAL = ("127.", "::1", "localhost")
_RESERVED = (".invalid", ".test", ".example", ".localhost")  # RFC 2606 names: never real hosts


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never touch the internet: a lookup of any other host fails the test that made it
    (a source left on its real default URL, for instance), and is refused as offline would be."""
    real = socket.getaddrinfo
    tried: list[str] = []

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name and not name.startswith(_LOCAL) and not name.endswith(_RESERVED):
            tried.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests are offline: {name}")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield
    assert not tried, f"a test tried to reach the internet: {sorted(set(tried))}"
