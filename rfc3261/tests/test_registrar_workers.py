"""The registrar program's database workers (:class:`rfc3261.programs.registrar.BindWorkers`).

Steps 6-8 of a REGISTER (:meth:`Registrar.bind`) run on a worker thread while the event
loop takes more requests.  These tests use stand-in registrars whose ``bind`` sleeps,
as a slow database would: REGISTERs of different addresses-of-record overlap, those of
one AOR run one after the other in the order they arrived, whatever each one costs.
The same against a real PostgreSQL is in ``test_location_pg.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from rfc3261.message import Response
from rfc3261.programs.registrar import BindWorkers, make_bind_workers
from rfc3261.registrar import Registrar, RegistrarConfig, Screened
from rfc3261.tests.server_support import register


class _SlowRegistrar:
    """Stands in for a Registrar on its own connection: ``bind`` takes ``delays[cseq]``."""

    def __init__(self, delays: dict[int, float], log: list[tuple[str, int, str]]) -> None:
        self.delays = delays
        self.log = log
        self.location = self
        self.closed = False

    def bind(self, request: Any, screened: Screened, now: float, *, source: object) -> Response:
        cseq = request.cseq.number
        self.log.append(("start", cseq, screened.aor))
        time.sleep(self.delays.get(cseq, 0.0))
        self.log.append(("end", cseq, screened.aor))
        return request.make_response(200)

    def close(self) -> None:
        self.closed = True


def _run(workers: BindWorkers, jobs: list[tuple[str, int]]) -> list[tuple[int, float]]:
    """Submit (aor, cseq) REGISTERs at once; (cseq, seconds) as each is answered."""
    answered: list[tuple[int, float]] = []

    async def main() -> None:
        done = asyncio.Event()
        started = time.monotonic()
        loop_thread = threading.get_ident()

        def answer(response: Response) -> None:
            assert threading.get_ident() == loop_thread  # answered on the event loop
            answered.append((response.cseq.number, time.monotonic() - started))
            if len(answered) == len(jobs):
                done.set()

        for aor, cseq in jobs:
            request = register(aor, call_id="one-call", cseq=cseq)
            workers.submit(request, Screened(aor, ("", False)), 0.0, None, answer)
        await asyncio.wait_for(done.wait(), 10)

    asyncio.run(main())
    return answered


def test_registers_of_two_aors_overlap() -> None:
    log: list[tuple[str, int, str]] = []
    stand_ins = [_SlowRegistrar({1: 0.4, 2: 0.4}, log) for _ in range(2)]
    workers = BindWorkers(stand_ins)  # type: ignore[arg-type]
    try:
        answered = _run(workers, [("sip:a@example.com", 1), ("sip:b@example.com", 2)])
    finally:
        workers.close()
    assert sorted(cseq for cseq, _ in answered) == [1, 2]
    # Both in flight at once: answered after about one delay, not two.
    assert max(seconds for _, seconds in answered) < 0.75
    assert [event for event, _, _ in log[:2]] == ["start", "start"]
    assert all(stand_in.closed for stand_in in stand_ins)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST be processed by a registrar in the order that
##% they are received.
def test_registers_of_one_aor_keep_their_order() -> None:
    log: list[tuple[str, int, str]] = []
    # The first is slow, the others fast: run at once, the later ones would end first.
    stand_ins = [_SlowRegistrar({1: 0.3}, log) for _ in range(3)]
    workers = BindWorkers(stand_ins)  # type: ignore[arg-type]
    aor = "sip:a@example.com"
    try:
        answered = _run(workers, [(aor, 1), (aor, 2), ("sip:b@example.com", 9), (aor, 3)])
    finally:
        workers.close()
    mine = [(event, cseq) for event, cseq, who in log if who == aor]
    assert mine == [("start", 1), ("end", 1), ("start", 2), ("end", 2), ("start", 3), ("end", 3)]
    assert [cseq for cseq, _ in answered if cseq != 9] == [1, 2, 3]
    # The other AOR's REGISTER did not wait behind the slow one.
    assert answered[0][0] == 9
    assert workers.in_flight == 0


def test_a_failing_bind_is_answered_500_and_the_aor_goes_on() -> None:
    class _Broken(_SlowRegistrar):
        def bind(self, request: Any, screened: Screened, now: float, *, source: object) -> Any:
            if request.cseq.number == 1:
                raise RuntimeError("a bug")
            return super().bind(request, screened, now, source=source)

    statuses: list[int] = []
    workers = BindWorkers([_Broken({}, [])])  # type: ignore[list-item]

    async def main() -> None:
        done = asyncio.Event()

        def answer(response: Response) -> None:
            statuses.append(response.status)
            if len(statuses) == 2:
                done.set()

        for cseq in (1, 2):
            request = register(call_id="one-call", cseq=cseq)
            workers.submit(request, Screened("sip:a@example.com", ("", False)), 0.0, None, answer)
        await asyncio.wait_for(done.wait(), 5)

    try:
        asyncio.run(main())
    finally:
        workers.close()
    assert statuses == [500, 200]


def test_workers_only_for_postgresql() -> None:
    import argparse

    registrar = Registrar(_SlowRegistrar({}, []), RegistrarConfig(domains=frozenset({"x"})))  # type: ignore[arg-type]
    sqlite = argparse.Namespace(db=":memory:", db_workers=4)
    assert make_bind_workers(sqlite, registrar) is None  # SQLite stays on the event loop
    off = argparse.Namespace(db="postgresql://nobody@127.0.0.1:1/x", db_workers=0)
    assert make_bind_workers(off, registrar) is None
    with pytest.raises(ValueError):
        BindWorkers([])


def test_close_does_not_wait_forever_nor_close_a_busy_connection() -> None:
    release = threading.Event()

    class _Stuck(_SlowRegistrar):
        def bind(self, request: Any, screened: Screened, now: float, *, source: object) -> Any:
            release.wait(5)  # a database that does not answer
            return request.make_response(200)

    stand_ins = [_Stuck({}, []), _Stuck({}, [])]
    workers = BindWorkers(stand_ins)  # type: ignore[arg-type]

    async def main() -> None:
        request = register(call_id="stuck", cseq=1)
        workers.submit(
            request, Screened("sip:a@example.com", ("", False)), 0.0, None, lambda r: None
        )
        await asyncio.sleep(0.05)  # a worker has taken it
        started = time.monotonic()
        workers.close(timeout=0.3)
        assert time.monotonic() - started < 1.0

    try:
        asyncio.run(main())
    finally:
        release.set()
    # The idle worker's connection is closed, the busy one's left alone.
    assert sorted(stand_in.closed for stand_in in stand_ins) == [False, True]
