"""Shared by the pure parsers (venues, coinglass_payloads): FrameError and JSON/number checks."""

from __future__ import annotations

import json
from typing import Any


class FrameError(ValueError):
    """A frame that is malformed or of an unknown kind: count it and skip it."""


# the C scanner: skips json.loads' Python layers (typeshed does not declare the attribute)
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def load_json(frame: str | bytes) -> Any:
    try:
        text = frame.decode() if type(frame) is bytes else frame
        obj, end = _scan(text, 0)
    except StopIteration:  # leading whitespace, or nothing that starts a JSON value
        try:
            return json.loads(frame)
        except (ValueError, TypeError, RecursionError) as e:
            raise FrameError(f"not JSON: {e}") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as e:
        raise FrameError(f"not JSON: {e}") from None  # UnicodeDecodeError is a ValueError
    if end != len(text) and text[end:].strip():
        raise FrameError("trailing data after JSON")
    return obj


def non_negative(value: Any, what: str) -> float:
    """A finite, non-negative number from a JSON number or numeric string."""
    if isinstance(value, bool):
        raise FrameError(f"bad {what}: {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FrameError(f"bad {what}: {value!r}") from None
    if not (0.0 <= x < 1e300):  # rejects NaN, inf and negatives
        raise FrameError(f"bad {what}: {value!r}")
    return x


def timestamp_ms(value: Any) -> int:
    if isinstance(value, bool):
        raise FrameError(f"bad timestamp: {value!r}")
    try:
        t = int(value)
    except (TypeError, ValueError, OverflowError):
        raise FrameError(f"bad timestamp: {value!r}") from None
    if not (0 < t < 10**14):
        raise FrameError(f"bad timestamp: {value!r}")
    return t


def number(value: Any) -> float:
    """float() for the parsers' hot paths, except that JSON true/false is no number (bool is an
    int in Python, so float(True) would be 1.0). Raises ValueError, which they catch."""
    if type(value) is bool:
        raise ValueError(f"a boolean is not a number: {value!r}")
    return float(value)
