"""The alert policy: when a rule fires again (escalation), when it re-arms, how quiet it stays.

Its own module because both the rules engine (rules.py) and its index (rules_index.py) read it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEVEL = 64  # a factor of 2 over 64 levels is beyond any money; guards odd policies


@dataclass(frozen=True, slots=True)
class Policy:
    rearm_ratio: float = 0.8
    min_quiet_ms: int = 15 * 60_000
    escalation_factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.rearm_ratio <= 1:
            raise ValueError("rearm_ratio must be in (0, 1]")
        if self.escalation_factor <= 1:
            raise ValueError("escalation_factor must be above 1")

    def bound(self, threshold: float, level: int) -> float:
        """The value that takes a subscription at `level` to the next level."""
        return threshold * self.escalation_factor**level

    def rearm_bound(self, threshold: float) -> float:
        """Below this value (strictly) a fired subscription may re-arm."""
        return threshold * self.rearm_ratio

    def level_for(self, threshold: float, value: float, level: int = 0) -> int:
        """The highest level `value` reaches, starting above `level`."""
        while level < MAX_LEVEL and value >= self.bound(threshold, level):
            level += 1
        return level
