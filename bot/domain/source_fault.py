"""Why a source is not delivering: a typed reason, set where the failure is classified.

The source that caught the failure knows what it was (a 401, a timeout, a closed socket); it
says so with a Fault and a detail line for the log. /status, /liqs, alert notes, the operator
alerts and the log all render from the Fault, so no one ever has to guess it back from text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.i18n import N_


class Fault(StrEnum):
    NOT_CONNECTED = "not_connected"  # never up since start
    CANNOT_CONNECT = "cannot_connect"  # DNS, refused TCP, REST discovery unreachable
    HANDSHAKE_REFUSED = "handshake_refused"  # the websocket upgrade was refused
    DISCONNECTED = "disconnected"  # an open connection was closed or reset
    TIMEOUT = "timeout"  # a request or connect took too long
    STALE = "stale"  # connected, but nothing arrived (the silence watchdog)
    AUTH_REJECTED = "auth_rejected"  # the API key was refused (401/403)
    RATE_LIMITED = "rate_limited"  # 429, or our own budget pause
    HTTP_ERROR = "http_error"  # another HTTP status
    API_ERROR = "api_error"  # an error envelope (plan refusal, bad parameter)
    BAD_DATA = "bad_data"  # an answer we could not use
    UNEXPECTED = "unexpected"  # a bug or an unforeseen library error
    ENDED = "ended"  # a replay that delivered everything: no new data will come

    @property
    def words(self) -> str:
        """The failure in a few plain words, after the source's name ("okx timed out")."""
        return _WORDS[self]


_WORDS = {
    Fault.NOT_CONNECTED: N_("not connected yet"),
    Fault.CANNOT_CONNECT: N_("cannot connect"),
    Fault.HANDSHAKE_REFUSED: N_("was refused"),
    Fault.DISCONNECTED: N_("lost its connection"),
    Fault.TIMEOUT: N_("timed out"),
    Fault.STALE: N_("went silent"),
    Fault.AUTH_REJECTED: N_("rejected the API key"),
    Fault.RATE_LIMITED: N_("is rate limiting us"),
    Fault.HTTP_ERROR: N_("answers with HTTP errors"),
    Fault.API_ERROR: N_("answers with errors"),
    Fault.BAD_DATA: N_("sends data we cannot read"),
    Fault.UNEXPECTED: N_("is down"),
    Fault.ENDED: N_("has finished"),
}


@dataclass(frozen=True, slots=True)
class DownReason:
    """What the health record keeps about an outage: the Fault, and a line for the log."""

    fault: Fault
    detail: str = ""  # in our words, never a secret ("CoinGlass HTTP 502")

    def log_text(self) -> str:
        """`(timeout): CoinGlass timed out`: the class to grep for, then the detail."""
        return f"({self.fault.value}): {self.detail or self.fault.words}"


NOT_CONNECTED = DownReason(Fault.NOT_CONNECTED, "not connected yet")
