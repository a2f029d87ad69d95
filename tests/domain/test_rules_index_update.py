"""`_Sorted.update`, the book's bulk move of a series' sorted columns, against a plain model (a
sorted list of entries): every path (bisect per pair, the fired prefix cut as a slice, a
filter-and-sort rebuild) keeps the four columns aligned and sorted by bound. The rule-book
property tests use a few rules per series and so reach only the per-pair path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.models import Side, Subscription
from bot.domain.rules_index import _Sorted


def sub(i: int) -> Subscription:
    return Subscription(i, "telegram:1", "BTC", 60, Side.TOTAL, 1.0)


# sizes drawn as numbers (Hypothesis's lists stay short): the bulk paths need long columns
case = st.tuples(
    st.integers(0, 300),  # entries
    st.sampled_from(("prefix", "some", "none")),
    st.integers(0, 300),  # how many to remove
    st.integers(0, 300),  # how many to add
    st.randoms(use_true_random=False),
)
BOUNDS = (1.0, 2.0, 2.0, 3.0, 5.0, 8.0, 13.0)  # ties on purpose


@settings(max_examples=200, deadline=None)
@given(case)
def test_update_is_a_sorted_remove_and_add(c) -> None:  # type: ignore[no-untyped-def]
    n, how, k, n_add, rnd = c
    bounds = [rnd.choice(BOUNDS) for _ in range(n)]
    added = [rnd.choice((0.5, *BOUNDS, 20.0)) for _ in range(n_add)]
    entries = [(b, i, sub(i), (0, i)) for i, b in enumerate(bounds, start=1)]
    col = _Sorted(entries)
    model = sorted(entries)
    k = k % (len(model) + 1)  # any count, from none to all
    if how == "prefix":
        gone = model[:k]
    elif how == "some":
        gone = rnd.sample(model, k)
    else:
        gone = []
    new = [(b, 10_000 + j, sub(10_000 + j), None) for j, b in enumerate(added)]
    col.update([(b, i) for b, i, _, _ in gone], new)
    ids_gone = {e[1] for e in gone}
    want = sorted([e for e in model if e[1] not in ids_gone] + new, key=lambda e: (e[0], e[1]))
    assert col.bounds == sorted(col.bounds)  # sorted by bound (ties in any order)
    got = sorted(
        zip(col.bounds, col.ids, col.subs, col.olds, strict=True), key=lambda e: (e[0], e[1])
    )
    assert got == want  # the same entries, each column aligned with its id
    assert all(s.id == i for s, i in zip(col.subs, col.ids, strict=True))
