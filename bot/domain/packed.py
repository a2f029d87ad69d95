"""Columns of numbers packed for storage: base64 of their little-endian machine values.

A crash tick's stored bodies hold 213,583 rules' facts (bot/domain/alert_parts.py `Body`): as
JSON numbers their columns took ~0.1-0.3 s to write, a float's repr at a time; packed, a few ms,
and the floats come back bit for bit.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Sequence
from typing import Any


def pack(code: str, values: Sequence[int] | Sequence[float]) -> str:
    """`values` as an `array` of type `code` ("q", "d", "b"), little-endian, in base64."""
    column = array(code, values)
    if sys.byteorder == "big":
        column.byteswap()
    return base64.b64encode(column.tobytes()).decode("ascii")


def unpack(code: str, text: str) -> list[Any]:
    """The values `pack(code, ...)` wrote."""
    return unpack_array(code, text).tolist()


def unpack_array(code: str, text: str) -> array[Any]:
    """The values `pack(code, ...)` wrote, as an `array` of type `code`."""
    column = array(code)
    column.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        column.byteswap()
    return column
