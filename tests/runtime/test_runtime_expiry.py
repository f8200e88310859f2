"""The token-expiry index: due items come out once, on time, never early, and discarded ones never."""

from __future__ import annotations

from runtime.expiry import ExpiryIndex


def test_items_come_out_at_their_second_not_before() -> None:
    index: ExpiryIndex[str] = ExpiryIndex(now=1000.0)
    index.add("a", 1001.2)
    index.add("b", 1002.0)
    index.add("c", 1500.0)
    assert index.pop_due(1001.9) == []  # a expires at 1001.2 but the second is not over: not early
    assert sorted(index.pop_due(1002.0)) == ["a", "b"]
    assert len(index) == 1
    assert index.pop_due(1499.0) == []
    assert index.pop_due(1600.0) == ["c"]
    assert len(index) == 0


def test_each_due_item_once_and_in_order_of_expiry() -> None:
    index: ExpiryIndex[int] = ExpiryIndex(now=0.0)
    for i in range(100):
        index.add(i, 1 + i * 0.37)
    seen: list[int] = []
    for now in range(1, 60):
        seen += sorted(index.pop_due(float(now)))
    assert seen == list(range(100))
    assert index.pop_due(10_000.0) == []


def test_discarded_and_re_added_items() -> None:
    index: ExpiryIndex[str] = ExpiryIndex(now=0.0)
    index.add("gone", 5.0)
    index.add("moved", 5.0)
    index.discard("gone")
    index.discard("never-added")  # no error
    index.add("moved", 50.0)  # a new expiry replaces the old one
    assert index.pop_due(10.0) == []
    assert index.pop_due(50.0) == ["moved"]


def test_an_item_already_due_goes_out_with_the_next_sweep() -> None:
    index: ExpiryIndex[str] = ExpiryIndex(now=100.0)
    index.pop_due(105.0)
    index.add("late", 90.0)  # expired before it was added (a clock step): not lost in a swept second
    assert index.pop_due(106.0) == ["late"]


def test_a_long_gap_between_sweeps_visits_only_the_buckets() -> None:
    index: ExpiryIndex[str] = ExpiryIndex(now=0.0)
    index.add("x", 10.0)
    index.add("y", 3e9)
    assert index.pop_due(2e9) == ["x"]  # would be 2e9 seconds to walk one by one
    assert len(index) == 1


def test_a_finer_resolution_keeps_sub_second_times() -> None:
    index: ExpiryIndex[str] = ExpiryIndex(now=0.0, resolution=0.1)
    index.add("a", 0.25)
    index.add("b", 0.71)
    assert index.pop_due(0.2) == []
    assert index.pop_due(0.3) == ["a"]
    assert index.pop_due(0.7) == []
    assert index.pop_due(0.8) == ["b"]


def test_resolution_must_be_positive() -> None:
    import pytest

    with pytest.raises(ValueError):
        ExpiryIndex(resolution=0)
