"""A short seeded chaos run in the suite: books, subscriptions and orders after faults, default backoff."""

from __future__ import annotations

from .run import chaos_run, describe


async def test_books_subscriptions_and_orders_survive_a_seeded_chaos_run() -> None:
    report = await chaos_run(12.0, seed=7, calm_s=30.0)
    text = describe(report)
    assert report.proxy["cuts"] >= 3, text  # the faults did happen
    assert report.recovery_s is not None, text
    assert report.books_equal and report.subscriptions_equal and not report.book_violations, text
    assert report.book_views > 100, text
    assert report.duplicates == 0 and report.acked_missing == 0 and report.not_sent_but_placed == 0, text
    assert not [k for k in report.outcomes if k.startswith("untyped")], text
    assert sum(report.outcomes.values()) >= 40, text
