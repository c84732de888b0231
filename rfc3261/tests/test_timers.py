"""Tests for rfc3261.timers: Table 4 values, back-off rules, reliable transports."""

from __future__ import annotations

import pytest

from rfc3261.timers import DEFAULT_TIMERS, TimerQueue, TimerValues, is_reliable


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% The default value for T1 is 500 ms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The default value of T2 is 4s, and it represents the amount of time a
##% non-INVITE server transaction will take to respond to a request, if it
##% does not respond immediately.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% The default value of T4 is 5s.
def test_defaults():
    assert (DEFAULT_TIMERS.T1, DEFAULT_TIMERS.T2, DEFAULT_TIMERS.T4) == (0.5, 4.0, 5.0)


# Table 4 (and RFC 6026 §8.11), default values: (timer, unreliable value, reliable value);
# None means "not started".
TABLE_4 = [
    ("timer_a", 0.5, None),
    ("timer_b", 32.0, 32.0),
    ("timer_d", 32.0, 0.0),
    ("timer_e", 0.5, None),
    ("timer_f", 32.0, 32.0),
    ("timer_g", 0.5, None),
    ("timer_h", 32.0, 32.0),
    ("timer_i", 5.0, 0.0),
    ("timer_j", 32.0, 0.0),
    ("timer_k", 5.0, 0.0),
    ("timer_l", 32.0, 32.0),
    ("timer_m", 32.0, 32.0),
]


def _value(timers: TimerValues, name: str, reliable: bool) -> float | None:
    method = getattr(timers, name)
    try:
        return method(reliable)
    except TypeError:  # timers that do not depend on the transport
        return method()


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If an unreliable transport is being used, the client transaction MUST
##% start timer A with a value of T1.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% If a reliable transport is being used, the client transaction SHOULD
##% NOT start timer A (Timer A controls request retransmissions).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% For any transport, the client transaction MUST start timer B with a
##% value of 64*T1 seconds (Timer B controls transaction timeouts).
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
##= type=test
##% The client transaction MUST start Timer D when it enters the
##% "Completed" state for any reason, with a value of at least 32 seconds
##% for unreliable transports, and a value of zero seconds for reliable
##% transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If an unreliable transport is in use, the client transaction MUST set
##% timer E to fire in T1 seconds.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% Once the client transaction enters the "Completed" state, it MUST set
##% Timer K to fire in T4 seconds for unreliable transports, and zero
##% seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% For unreliable transports, timer G is set to fire in T1 seconds, and
##% is not set to fire for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When the "Completed" state is entered, timer H MUST be set to fire in
##% 64*T1 seconds for all transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% When this state is entered, timer I is set to fire in T4 seconds for
##% unreliable transports, and zero seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
##= type=test
##% When the server transaction enters the "Completed" state, it MUST set
##% Timer J to fire in 64*T1 seconds for unreliable transports, and zero
##% seconds for reliable transports.
##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
##= type=test
##% When the INVITE server transaction enters the "Accepted" state, Timer
##% L MUST be set to fire in 64*T1 for all transports.
@pytest.mark.parametrize(("name", "unreliable", "reliable"), TABLE_4)
def test_table_4_defaults(name, unreliable, reliable):
    assert _value(DEFAULT_TIMERS, name, False) == unreliable
    assert _value(DEFAULT_TIMERS, name, True) == reliable


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% T1 MAY be chosen larger, and this is RECOMMENDED if it is known in advance
##% (such as on high latency access links) that the RTT is larger.
@pytest.mark.parametrize(("name", "unreliable", "reliable"), TABLE_4)
def test_table_4_scales_with_t1_and_t4(name, unreliable, reliable):
    # Doubling T1 (and T4) doubles every timer except D, whose floor is 32 s
    # until 64*T1 exceeds it.
    timers = TimerValues(T1=1.0, T2=8.0, T4=10.0)
    expected = None if unreliable is None else unreliable * 2
    assert _value(timers, name, False) == expected
    expected_reliable = None if reliable is None else reliable * 2
    assert _value(timers, name, True) == expected_reliable


def test_timer_d_is_at_least_32_seconds_even_with_a_small_t1():
    timers = TimerValues(T1=0.1, T2=4.0)
    assert timers.timer_b() == pytest.approx(6.4)
    assert timers.timer_d(False) == 32.0


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% This process MUST continue so that the request is retransmitted with
##% intervals that double after each transmission.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
##= type=test
##% Whatever the value of T1, the exponential backoffs on retransmissions
##% described in this section MUST be used.
def test_timer_a_doubles_without_cap():
    intervals = [DEFAULT_TIMERS.timer_a(False)]
    for _ in range(6):
        intervals.append(DEFAULT_TIMERS.next_timer_a(intervals[-1]))
    assert intervals == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If timer E fires while still in this state, the timer is reset, but
##% this time with a value of MIN(2*T1, T2).
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% This process continues so that retransmissions occur with an
##% exponentially increasing interval that caps at T2.
##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
##= type=test
##% From then on, when timer G fires, the response is passed to the
##% transport again for transmission, and timer G is reset with a value
##% that doubles, unless that value exceeds T2, in which case it is reset
##% with the value of T2.
@pytest.mark.parametrize(
    ("first", "step"), [("timer_e", "next_timer_e"), ("timer_g", "next_timer_g")]
)
def test_timers_e_and_g_double_up_to_t2(first, step):
    intervals = [getattr(DEFAULT_TIMERS, first)(False)]
    for _ in range(6):
        intervals.append(getattr(DEFAULT_TIMERS, step)(intervals[-1]))
    # "For the default values of T1 and T2, this results in intervals of
    # 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc." (§17.1.2.2)
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
##= type=test
##% If Timer E fires while in the "Proceeding" state, the request MUST be
##% passed to the transport layer for retransmission, and Timer E MUST be
##% reset with a value of T2 seconds.
def test_timer_e_in_proceeding_is_t2():
    assert DEFAULT_TIMERS.timer_e_proceeding() == 4.0
    assert TimerValues(T1=0.2, T2=2.0).timer_e_proceeding() == 2.0


@pytest.mark.parametrize(
    ("transport", "reliable"),
    [("UDP", False), ("udp", False), ("TCP", True), ("tls", True), ("SCTP", True), ("WSS", True)],
)
def test_is_reliable(transport, reliable):
    assert is_reliable(transport) is reliable


@pytest.mark.parametrize(("t1", "t2", "t4"), [(0.0, 4.0, 5.0), (5.0, 4.0, 5.0), (0.5, 4.0, -1.0)])
def test_invalid_values_are_rejected(t1, t2, t4):
    with pytest.raises(ValueError, match="RFC 3261"):
        TimerValues(T1=t1, T2=t2, T4=t4)


# -- TimerQueue: the one timer mechanism of the cores ----------------------------------


def test_timer_queue_keeps_one_deadline_per_key_and_fires_in_order() -> None:
    queue: TimerQueue[str] = TimerQueue()
    queue.schedule("b", 3.0)
    queue.schedule("a", 5.0)
    queue.schedule("a", 2.0)  # replaces 5.0
    queue.schedule("c", 4.0)
    queue.schedule("c", None)  # cleared
    assert (queue.next_deadline(), len(queue)) == (2.0, 2)
    assert list(queue.due(4.0)) == ["a", "b"]
    assert queue.next_deadline() is None and len(queue) == 0
    assert list(queue.due(100.0)) == []


def test_a_key_rescheduled_while_firing_fires_again_when_due() -> None:
    queue: TimerQueue[str] = TimerQueue()
    queue.schedule("retransmit", 1.0)
    fired = []
    for key in queue.due(1.0):
        fired.append(key)
        assert queue.deadline(key) is None  # cleared before it is handed out
        queue.schedule(key, 2.0)  # e.g. Timer A doubling
    assert fired == ["retransmit"] and queue.next_deadline() == 2.0
    fired = []
    for key in queue.due(10.0):
        fired.append(key)
        if len(fired) < 3:
            queue.schedule(key, 2.5 * len(fired))  # still due at 10: fires again now
    assert fired == ["retransmit"] * 3


def test_cleared_far_deadlines_do_not_pile_up_in_the_heap() -> None:
    # An INVITE with a huge Expires sets a timer that its CANCEL clears at once.
    queue: TimerQueue[int] = TimerQueue()
    for key in range(10_000):
        queue.schedule(key, 1e9 + key)
        queue.schedule(key, None)
    assert len(queue) == 0 and len(queue._heap) <= 64
    queue.schedule(1, 5.0)
    assert queue.next_deadline() == 5.0 and list(queue.due(5.0)) == [1]
