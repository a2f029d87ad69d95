"""Whole-life tests only: shift the service's clock by the milliseconds in $TEST_LIQBOT_CLOCK_FILE.

Python imports `sitecustomize` at start-up from sys.path. The life-cycle tests put this folder on
the PYTHONPATH of the `python -m bot run` they start, so the production wiring runs unchanged with
a clock the test can move forward (past a window and a quiet time) instead of waiting for it. The
file is rewritten atomically (os.replace); it is read again only when it changes.
"""

import os

_PATH = os.environ.get("TEST_LIQBOT_CLOCK_FILE")

if _PATH:
    import bot.runtime.clock

    _wall = bot.runtime.clock.Clock.now_ms
    _seen: list[object] = [None, 0]  # (inode, mtime) of the file read, shift in ms

    def _shifted_now_ms(self: bot.runtime.clock.Clock) -> int:
        st = os.stat(_PATH)
        version = (st.st_ino, st.st_mtime_ns)  # os.replace gives a new inode every time
        if version != _seen[0]:
            with open(_PATH, encoding="ascii") as f:
                _seen[:] = [version, int(f.read().strip() or 0)]
        return _wall(self) + int(_seen[1])  # type: ignore[call-overload]

    bot.runtime.clock.Clock.now_ms = _shifted_now_ms  # type: ignore[method-assign]
