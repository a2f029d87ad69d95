"""Start-up's snapshot of the hot minute buckets: written at a clean stop beside the SQLite file,
read at the next start instead of asking SQLite for 26 hours of buckets (issue 18 item 4).

Reading 1.4 M buckets out of SQLite was most of start-up (`group_concat` per minute and the
exactness checks: ~1.9 s of ~2.8 s for 300 coins on 3 venues); the snapshot is one file of
packed doubles read with one `frombytes`. It holds exactly what the store would hand
`Aggregator.load_minutes` (Aggregator.minute_columns, at the store's whole-dollar precision),
so both paths fill the aggregator alike (tested).

It is used only when it provably matches the store: every write of buckets changes a random
token in the store's kv table (in the same transaction), and the snapshot carries the token
it was written under. Missing, stale (the store was written since), damaged (CRC), of another
format or another file's: today's load from the store, with one log line saying why.
A store changed behind the service's back (SQL by hand) is not noticed: delete `<file>.hot`.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from array import array
from pathlib import Path

from bot.domain.aggregate_load import MinuteColumns

log = logging.getLogger(__name__)

MAGIC = b"LIQBOT-HOT-1\n"  # the format: a new layout gets a new magic (an old file is ignored)
_LEN = struct.Struct("<QI")  # header length, CRC-32 of header + values


def snapshot_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.hot")


def write_snapshot(path: Path, token: str, written_ms: int, columns: list[MinuteColumns]) -> int:
    """Write the snapshot atomically (a temporary file renamed over the old one); returns its
    size in bytes. The caller logs a failure: a snapshot is an optimisation, never required."""
    key_index: dict[tuple[tuple[str, str], ...], int] = {}
    minutes: list[list[int]] = []
    values = array("d")
    for minute_ms, keys, vals in columns:
        k = key_index.setdefault(keys, len(key_index))
        minutes.append([minute_ms, k])
        values.extend(vals)
    header = json.dumps(
        {
            "token": token,
            "written_ms": written_ms,
            "keys": [[list(pair) for pair in keys] for keys in key_index],
            "minutes": minutes,
            "little_endian": _little_endian(),
        },
        separators=(",", ":"),
    ).encode()
    body = values.tobytes()
    crc = zlib.crc32(body, zlib.crc32(header))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(_LEN.pack(len(header), crc))
        f.write(header)
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(MAGIC) + _LEN.size + len(header) + len(body)


def read_snapshot(path: Path, token: str | None) -> tuple[list[MinuteColumns] | None, str]:
    """(the minute columns, "") when the snapshot matches the store's token; else (None, why)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "no snapshot"
    except OSError as e:
        return None, f"snapshot unreadable ({type(e).__name__})"
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + _LEN.size:
        return None, "snapshot of another format"
    at = len(MAGIC)
    n_header, crc = _LEN.unpack_from(raw, at)
    at += _LEN.size
    header_bytes = raw[at : at + n_header]
    body = memoryview(raw)[at + n_header :]
    if len(header_bytes) != n_header or zlib.crc32(body, zlib.crc32(header_bytes)) != crc:
        return None, "snapshot damaged (checksum)"
    try:
        header = json.loads(header_bytes)
        if header["little_endian"] != _little_endian():
            return None, "snapshot of another machine"
        if token is None or header["token"] != token:
            return None, "snapshot stale (the store was written since)"
        keys = [tuple((c, v) for c, v in pairs) for pairs in header["keys"]]
        if len(body) % 8:
            return None, "snapshot damaged (length)"
        out: list[MinuteColumns] = []
        pos = 0  # in bytes; each minute's array is the one copy of its part of the file
        for minute_ms, k in header["minutes"]:
            n = 16 * len(keys[k])
            values = array("d")
            values.frombytes(body[pos : pos + n])
            out.append((int(minute_ms), keys[k], values))
            pos += n
        if pos != len(body):
            return None, "snapshot damaged (length)"
    except (ValueError, KeyError, TypeError, IndexError) as e:
        return None, f"snapshot damaged ({type(e).__name__})"
    return out, ""


def _little_endian() -> bool:
    return array("H", [1]).tobytes() == b"\x01\x00"
