"""The unknown-coin budget (issue 17 item 6) against a small reference model (hypothesis)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.domain.unknown_coins import UnknownCoins

LIMIT, QUIET = 3, 1_000
COINS = st.sampled_from(["A", "B", "C", "D", "E", "F"])


class Budget(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.real = UnknownCoins(LIMIT, QUIET)
        self.model: dict[str, int] = {}  # coin -> last event time
        self.listed: set[str] = set()
        self.now = 0

    @rule(dt=st.integers(0, 1_500))
    def time_passes(self, dt: int) -> None:
        self.now += dt

    @rule(coin=COINS)
    def a_list_names(self, coin: str) -> None:
        self.listed.add(coin)

    @rule(coin=COINS)
    def an_event(self, coin: str) -> None:
        if coin in self.listed:
            return  # the caller never asks for a listed coin
        ok, freed = self.real.admit(coin, self.now, self.listed.__contains__)
        # the model: a tracked coin is refreshed; else, when full, first every listed coin
        # leaves the budget and every coin quiet for QUIET is dropped; then room or refusal
        expected_freed: list[str] = []
        if coin in self.model:
            self.model[coin] = self.now
            assert ok and freed == []
            return
        if len(self.model) >= LIMIT:
            for c, last in list(self.model.items()):
                if c in self.listed:
                    del self.model[c]
                elif self.now - last >= QUIET:
                    del self.model[c]
                    expected_freed.append(c)
        assert sorted(freed) == sorted(expected_freed)
        assert not set(freed) & self.listed  # a listed coin's series is never dropped
        if len(self.model) < LIMIT:
            self.model[coin] = self.now
            assert ok
        else:
            assert not ok

    @invariant()
    def bounded_and_equal(self) -> None:
        assert len(self.real) <= LIMIT
        assert {c for c in "ABCDEF" if c in self.real} == set(self.model)


TestBudget = Budget.TestCase


def test_a_new_coin_takes_the_place_of_one_gone_quiet() -> None:
    b = UnknownCoins(1, 1_000)
    assert b.admit("X", 0, lambda c: False) == (True, [])
    assert b.admit("Y", 500, lambda c: False) == (False, [])  # X is not quiet yet
    assert b.admit("Y", 1_000, lambda c: False) == (True, ["X"])
    assert (b.refused, b.evicted) == (1, 1)
