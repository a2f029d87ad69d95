"""`RuleBook.revert` undoes `apply` exactly: the engine applies a tick's moves while the store's
last writes run, and reverts them when the commit then fails. Checked against the book as it was
(every series' sorted lists and the states), through the crash path and the careful one, and with
rules removed in between."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.moves import Transitions
from tests.domain.test_apply_as_evaluated import (
    columns,
    drawn_ticks,
    every_series_at_once,
    twin_books,
)
from tests.domain.test_rules import state_st, sub_st, tick_st


@settings(max_examples=200, deadline=None)
@given(
    subs=st.lists(st.tuples(sub_st, state_st), max_size=40),
    ticks=st.lists(tick_st, min_size=1, max_size=6),
    mute=st.booleans(),
    at_once=st.booleans(),
    failing=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_a_reverted_apply_leaves_the_book_as_it_was(  # type: ignore[no-untyped-def]
    subs, ticks, mute, at_once, failing
) -> None:
    book, never = twin_books(subs)  # `never` sees only the ticks whose commit succeeded
    for (now, s, muted, removals), fails in zip(drawn_ticks(ticks, mute), failing, strict=False):
        moves = book.evaluate(s, now, muted)
        assert isinstance(moves, Transitions)
        assert list(moves) == list(never.evaluate(s, now, muted))
        before = columns(book)
        if at_once:
            with every_series_at_once():
                book.apply(moves)
        else:
            book.apply(moves)
        if fails:  # the commit failed: back to the book it was
            book.revert(moves)
            assert columns(book) == before
        else:
            never.apply(moves)
        # rules removed after a tick, as commands do: the books stay twins
        for sub_id in removals:
            book.remove(sub_id)
            never.remove(sub_id)
        assert columns(book) == columns(never)
