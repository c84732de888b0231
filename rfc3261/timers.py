"""Transaction timers (RFC 3261 §17 and Appendix A Table 4, RFC 6026 §8.11).

Table 4 names three base values and the timers derived from them:

    Timer    Value                 Used by
    T1       500 ms (RTT estimate)  every timer below scales with it
    T2       4 s                    cap of the E and G back-off
    T4       5 s                    how long a message may stay in the network
    Timer A  initially T1           INVITE request retransmit, doubles (UDP only)
    Timer B  64*T1                  INVITE client transaction timeout
    Timer D  >= 32 s UDP, 0 s TCP   INVITE client "Completed" wait
    Timer E  initially T1           non-INVITE request retransmit, capped at T2 (UDP only)
    Timer F  64*T1                  non-INVITE client transaction timeout
    Timer G  initially T1           INVITE final response retransmit, capped at T2 (UDP only)
    Timer H  64*T1                  INVITE server wait for ACK
    Timer I  T4 UDP, 0 s TCP        INVITE server "Confirmed" wait
    Timer J  64*T1 UDP, 0 s TCP     non-INVITE server "Completed" wait
    Timer K  T4 UDP, 0 s TCP        non-INVITE client "Completed" wait
    Timer L  64*T1                  INVITE server "Accepted" wait (RFC 6026)
    Timer M  64*T1                  INVITE client "Accepted" wait (RFC 6026)

Timer C (proxy INVITE timeout, §16.6) belongs to the proxy core, not here.

:class:`TimerQueue` is the one timer mechanism of the sans-I/O cores: the transaction
layer, the UA core and the proxy each keep their deadlines in one, report the earliest
(``next_deadline``) and are told when it has passed (``handle_timer(now)``), as
aioquic's connections do.  The edge arms a single event-loop timer per core.

All values are seconds as floats. :class:`TimerValues` holds T1, T2, T4 (and the
Timer D floor) and answers "what is timer X for this transport?"; the
``None`` answer means "do not start this timer" (retransmission timers over
reliable transports).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .transports import is_reliable

__all__ = [
    "DEFAULT_TIMERS",
    "TimerQueue",
    "TimerValues",
    "is_reliable",
]

K = TypeVar("K", bound=Hashable)


class TimerQueue(Generic[K]):
    """Deadlines by key: each key has at most one, and setting it again replaces it.

    ``schedule(key, deadline)`` sets (or, with None, clears) the key's deadline;
    ``due(now)`` yields the keys whose deadline has passed, earliest first, clearing
    each before it is yielded (so the caller may schedule it again).  Superseded
    entries stay in the heap until they reach its top: no search on every change.
    """

    __slots__ = ("_deadlines", "_heap", "_sequence")

    def __init__(self) -> None:
        self._deadlines: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._sequence = itertools.count()

    def schedule(self, key: K, deadline: float | None) -> None:
        """Fire ``key`` at ``deadline`` (replacing its earlier deadline); None: never."""
        if deadline is None:
            if self._deadlines.pop(key, None) is not None:
                self._compact()
            return
        if self._deadlines.get(key) == deadline:
            return
        self._deadlines[key] = deadline
        heapq.heappush(self._heap, (deadline, next(self._sequence), key))
        self._compact()

    def _compact(self) -> None:
        """Drop superseded entries once they outnumber the live ones: a peer that makes
        timers be set and cleared far in the future cannot grow the heap without bound."""
        if len(self._heap) > 2 * len(self._deadlines) + 64:
            deadlines = self._deadlines
            self._heap = [entry for entry in self._heap if deadlines.get(entry[2]) == entry[0]]
            heapq.heapify(self._heap)

    def deadline(self, key: K) -> float | None:
        """The deadline ``key`` has now, or None."""
        return self._deadlines.get(key)

    def next_deadline(self) -> float | None:
        """The earliest deadline of any key; None when nothing is scheduled."""
        heap, deadlines = self._heap, self._deadlines
        while heap:
            deadline, _, key = heap[0]
            if deadlines.get(key) == deadline:
                return deadline
            heapq.heappop(heap)  # superseded or cleared
        return None

    def due(self, now: float) -> Iterator[K]:
        """The keys due at ``now``, earliest first, each cleared as it is yielded."""
        heap, deadlines = self._heap, self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            if deadlines.get(key) == deadline:
                del deadlines[key]
                yield key

    def __len__(self) -> int:
        return len(self._deadlines)


# Which transports are reliable (no retransmissions, no lingering) is a fact of
# the transport table; is_reliable is re-exported from there.


@dataclass(frozen=True, slots=True)
class TimerValues:
    """T1, T2, T4 and the timers of Table 4 derived from them."""

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% The default value for T1 is 500 ms.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% T1 MAY be chosen larger, and this is RECOMMENDED if it is known in
    ##% advance (such as on high latency access links) that the RTT is larger.
    T1: float = 0.5
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% The default value of T2 is 4s, and it represents the amount of time a
    ##% non-INVITE server transaction will take to respond to a request, if it
    ##% does not respond immediately.
    T2: float = 4.0
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% The default value of T4 is 5s.
    T4: float = 5.0
    # Timer D is not derived from T1: the client does not know the server's T1.
    timer_d_floor: float = 32.0

    def __post_init__(self) -> None:
        if not 0 < self.T1 <= self.T2:
            raise ValueError("timers: T1 must be positive and at most T2 (RFC 3261 §17.1.1.2)")
        if self.T4 < 0:
            raise ValueError("timers: T4 must not be negative (RFC 3261 §17.1.2.2)")

    # -- INVITE client transaction (§17.1.1.2, RFC 6026 §8.4) -----------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% If an unreliable transport is being used, the client transaction MUST
    ##% start timer A with a value of T1.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% If a reliable transport is being used, the client transaction SHOULD
    ##% NOT start timer A (Timer A controls request retransmissions).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% Elements MAY (though it is NOT RECOMMENDED) use smaller values of T1
    ##% within closed, private networks that do not permit general Internet
    ##% connection.
    def timer_a(self, reliable: bool) -> float | None:
        """Initial Timer A: T1 over unreliable transports, not started over reliable ones.

        T1 is the configured one, below the default of 500 ms included."""
        return None if reliable else self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% This process MUST continue so that the request is retransmitted with
    ##% intervals that double after each transmission.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% Whatever the value of T1, the exponential backoffs on retransmissions
    ##% described in this section MUST be used.
    def next_timer_a(self, interval: float) -> float:
        """Timer A after it fired with ``interval``: doubled, with no cap (Timer B ends it)."""
        return 2 * interval

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% For any transport, the client transaction MUST start timer B with a
    ##% value of 64*T1 seconds (Timer B controls transaction timeouts).
    def timer_b(self) -> float:
        """Timer B: 64*T1 for every transport."""
        return 64 * self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.1.2
    ##% The client transaction SHOULD start timer D when it enters the
    ##% "Completed" state, with a value of at least 32 seconds for unreliable
    ##% transports, and a value of zero seconds for reliable transports.
    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
    ##% The client transaction MUST start Timer D when it enters the
    ##% "Completed" state for any reason, with a value of at least 32 seconds
    ##% for unreliable transports, and a value of zero seconds for reliable
    ##% transports.
    def timer_d(self, reliable: bool) -> float:
        """Timer D: at least 32 s (and at least 64*T1) over unreliable transports, else 0."""
        return 0.0 if reliable else max(self.timer_d_floor, 64 * self.T1)

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.4
    ##% When a 2xx response is received while in either the "Calling" or
    ##% "Proceeding" states, the client transaction MUST transition to the
    ##% "Accepted" state, and Timer M MUST be started with a value of 64*T1.
    def timer_m(self) -> float:
        """Timer M (RFC 6026): 64*T1 for every transport."""
        return 64 * self.T1

    # -- non-INVITE client transaction (§17.1.2.2) ----------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% If an unreliable transport is in use, the client transaction MUST set
    ##% timer E to fire in T1 seconds.
    def timer_e(self, reliable: bool) -> float | None:
        """Initial Timer E: T1 over unreliable transports, not started over reliable ones."""
        return None if reliable else self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% If timer E fires while still in this state, the timer is reset, but
    ##% this time with a value of MIN(2*T1, T2).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% This process continues so that retransmissions occur with an
    ##% exponentially increasing interval that caps at T2.
    def next_timer_e(self, interval: float) -> float:
        """Timer E after it fired in "Trying" with ``interval``: MIN(2*interval, T2)."""
        return min(2 * interval, self.T2)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% If Timer E fires while in the "Proceeding" state, the request MUST be
    ##% passed to the transport layer for retransmission, and Timer E MUST be
    ##% reset with a value of T2 seconds.
    def timer_e_proceeding(self) -> float:
        """Timer E after it fired in "Proceeding": T2."""
        return self.T2

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% When entering this state, the client transaction SHOULD set timer F to
    ##% fire in 64*T1 seconds.
    def timer_f(self) -> float:
        """Timer F: 64*T1 for every transport."""
        return 64 * self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.1.2.2
    ##% Once the client transaction enters the "Completed" state, it MUST set
    ##% Timer K to fire in T4 seconds for unreliable transports, and zero
    ##% seconds for reliable transports.
    def timer_k(self, reliable: bool) -> float:
        """Timer K: T4 over unreliable transports, 0 over reliable ones."""
        return 0.0 if reliable else self.T4

    # -- INVITE server transaction (§17.2.1, RFC 6026 §8.7) -------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% For unreliable transports, timer G is set to fire in T1 seconds, and
    ##% is not set to fire for reliable transports.
    def timer_g(self, reliable: bool) -> float | None:
        """Initial Timer G: T1 over unreliable transports, not started over reliable ones."""
        return None if reliable else self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% From then on, when timer G fires, the response is passed to the
    ##% transport again for transmission, and timer G is reset with a value
    ##% that doubles, unless that value exceeds T2, in which case it is reset
    ##% with the value of T2.
    def next_timer_g(self, interval: float) -> float:
        """Timer G after it fired with ``interval``: MIN(2*interval, T2)."""
        return min(2 * interval, self.T2)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% When the "Completed" state is entered, timer H MUST be set to fire in
    ##% 64*T1 seconds for all transports.
    def timer_h(self) -> float:
        """Timer H: 64*T1 for every transport."""
        return 64 * self.T1

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.1
    ##% When this state is entered, timer I is set to fire in T4 seconds for
    ##% unreliable transports, and zero seconds for reliable transports.
    def timer_i(self, reliable: bool) -> float:
        """Timer I: T4 over unreliable transports, 0 over reliable ones."""
        return 0.0 if reliable else self.T4

    ##= https://www.rfc-editor.org/rfc/rfc6026#section-8.7
    ##% When the INVITE server transaction enters the "Accepted" state, Timer
    ##% L MUST be set to fire in 64*T1 for all transports.
    def timer_l(self) -> float:
        """Timer L (RFC 6026): 64*T1 for every transport."""
        return 64 * self.T1

    # -- non-INVITE server transaction (§17.2.2) ------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-17.2.2
    ##% When the server transaction enters the "Completed" state, it MUST set
    ##% Timer J to fire in 64*T1 seconds for unreliable transports, and zero
    ##% seconds for reliable transports.
    def timer_j(self, reliable: bool) -> float:
        """Timer J: 64*T1 over unreliable transports, 0 over reliable ones."""
        return 0.0 if reliable else 64 * self.T1


DEFAULT_TIMERS = TimerValues()
