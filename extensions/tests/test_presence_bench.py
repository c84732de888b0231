"""The presence benchmark's harness (``make bench``: rfc3261/bench/presence_load.py), quickly."""

from __future__ import annotations

from rfc3261.bench import presence_load


def test_the_quick_presence_benchmark_holds_every_subscription_and_notifies_all() -> None:
    doc = presence_load.run(True)
    load = doc["load"]
    assert load["held"] == load["subscriptions"] == 300
    assert load["notifies_on_change"] == load["watchers_on_change"] == 350
    assert 500 < load["bytes_per_subscription"] < 50_000
    assert load["notifies_per_second"] > 0 and load["notify_bytes"] > 300
    assert presence_load.floors_passed(doc) is True
    text = presence_load.render(doc)
    assert "300 presence subscriptions" in text and "NOTIFYs/s" in text
