"""The PostgreSQL location service (:mod:`rfc3261.location_pg`) against a real server.

A session-scoped PostgreSQL (Debian ``postgresql``: ``initdb`` + ``pg_ctl`` as an
unprivileged user, 127.0.0.1 on a free port, see ``postgres_support``) serves every
test; each test gets its own database.  Without PostgreSQL the tests skip, and fail
under SIPREF_REQUIRE_EXTERNAL=1.  What they show: the store keeps what the SQLite one
keeps; two registrars sharing it serialize the REGISTERs of one AOR (a property test
against a serial replay on the SQLite reference); expiry by several instances deletes
only what is expired; and, with the programs as processes, two registrars and a proxy
share the bindings, which survive restarts of the programs and of the database.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfc3261.location import Binding, LocationError, SqliteLocationService
from rfc3261.message import Request
from rfc3261.registrar import Registrar, RegistrarConfig
from rfc3261.tests.server_support import register

from .postgres_support import TempPostgres, require_postgres
from .test_programs_servers import DOMAIN, Client, ServerProcess, contacts_of

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """One PostgreSQL server for the whole test session, removed at the end."""
    server = TempPostgres(require_postgres())
    try:
        server.start()
        server.wait_ready()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(postgres: TempPostgres) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t{next(_counter)}_{secrets.token_hex(3)}"
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{postgres.port}/{name}"


def service(url: str, **kwargs: Any) -> Any:
    """A PostgresLocationService (imported here: psycopg is an optional extra)."""
    from rfc3261.location_pg import PostgresLocationService

    return PostgresLocationService(url, **kwargs)


# -- the store --------------------------------------------------------------------------


def test_bindings_round_trip_with_extension_data(pg_url: str) -> None:
    now = 1000.0
    aor = "sip:alice@example.com"
    with service(pg_url) as loc:
        path = ("<sip:p1;lr>", "<sip:p2;lr>")
        extra = {"+sip.instance": "<urn:x>"}
        first = Binding(aor, "sip:a@192.0.2.1", now + 60, "c1", 1, 0.5, "192.0.2.1:5060",
                        path, "flow-1", extra)  # fmt: skip
        second = Binding(aor, "sip:a@192.0.2.2", now + 60, "c2", 7)
        loc.update(aor, [first, second], [], now)
        assert loc.bindings(aor, now) == [first, second]  # registration order
        assert loc.lookup(aor, now) == [second, first]  # q 1.0 before q 0.5
        # A refresh keeps the binding's place; a removal deletes only that one.
        refreshed = Binding(aor, "sip:a@192.0.2.1", now + 120, "c1", 2, 0.5)
        loc.update(aor, [refreshed], ["sip:a@192.0.2.2"], now)
        assert loc.bindings(aor, now) == [refreshed]
        assert loc.count(now) == 1 and loc.count(now, aor) == 1
        assert loc.remove(aor) == 1 and loc.bindings(aor, now) == []
    # A second instance (another process) sees the same table, schema already there.
    with service(pg_url) as other:
        other.update(aor, [second], [], now)
    with service(pg_url) as third:
        assert third.bindings(aor, now) == [second]


def test_values_come_back_exactly_from_the_text_results(pg_url: str) -> None:
    """Reads parse the simple-query protocol's text: times and q are the same floats,
    strings with quotes, backslashes and non-ASCII the same strings."""
    now = 1796684169.4398665
    aor = "sip:o'hara@example.com"
    odd = Binding(aor, "sip:o'h\\x@192.0.2.1;x=\"é\"", now + 3600.123456789, "c'\\1", 2**40,
                  0.7, "[::1]:5060", ("<sip:p1;lr;x='y'>",), "flow\\'1",
                  {"+sip.instance": "<urn:uuid:ü>", "reg-id": "1"})  # fmt: skip
    with service(pg_url) as loc, service(pg_url) as proxy:
        loc.update(aor, [odd], [], now)
        assert proxy.bindings(aor, now) == [odd]  # a plain read
        with loc.transaction(aor, now):
            assert loc.bindings(aor, now) == [odd]  # the read under the AOR's lock
        assert proxy.bindings(aor, odd.expires_at) == []  # expired at exactly that time


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% The binding updates MUST be committed (that is, made visible to the
##% proxy or redirect server) if and only if all binding updates and
##% additions succeed.
def test_a_failed_transaction_commits_nothing(pg_url: str) -> None:
    now = 1000.0
    aor = "sip:bob@example.com"
    with service(pg_url) as loc, service(pg_url) as proxy:
        kept = Binding(aor, "sip:b@192.0.2.1", now + 60, "c", 1)
        loc.update(aor, [kept], [], now)
        with pytest.raises(RuntimeError), loc.transaction(aor, now):
            loc.update(aor, [Binding(aor, "sip:b@192.0.2.9", now + 60, "c", 2)], [kept.contact],
                       now)  # fmt: skip
            # Not visible to a proxy before the commit ...
            assert proxy.lookup(aor, now) == [kept]
            raise RuntimeError("the registrar rejected the request")
        # ... and rolled back as a whole.
        assert proxy.lookup(aor, now) == [kept]
        # Transactions do not nest.
        with pytest.raises(ValueError), loc.transaction(aor, now), loc.transaction(aor, now):
            pass


def test_a_register_waits_for_the_aor_lock_and_a_failed_one_is_rolled_back(
    pg_url: str,
) -> None:
    import psycopg

    aor = "sip:lock@example.com"
    kept = Binding(aor, "sip:l@192.0.2.1", 2000.0, "c", 1)
    with service(pg_url + "?options=-c%20lock_timeout%3D300") as loc:
        with psycopg.connect(pg_url) as holder:
            # Another instance is inside a REGISTER for this AOR: this one waits ...
            holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (aor,))
            started = time.monotonic()
            with pytest.raises(LocationError, match="lock timeout"), loc.transaction(aor, 1000.0):
                pass
            assert time.monotonic() - started >= 0.25  # ... until its lock_timeout here
        # The failed transaction was rolled back: the connection serves the next one.
        loc.update(aor, [kept], [], 1000.0)
        assert loc.bindings(aor, 1000.0) == [kept]


def test_the_prepared_statements_survive_rollbacks_and_repeated_queries(pg_url: str) -> None:
    """psycopg deallocates every prepared statement of a session when it sees a ROLLBACK
    after preparing its own (automatically, from a query's fifth run): the store's own
    statements, prepared with SQL PREPARE, must outlive that."""
    aor = "sip:roll@example.com"
    with service(pg_url) as loc:
        for _ in range(8):  # what the registrar's count-once-a-second does over time
            assert loc.count(1000.0) == 0 and loc.next_expiry() is None
        with pytest.raises(RuntimeError), loc.transaction(aor, 1000.0):
            raise RuntimeError("a Reject: rolled back")
        kept = Binding(aor, "sip:r@192.0.2.1", 2000.0, "c", 1)
        loc.update(aor, [kept], [], 1000.0)
        assert loc.bindings(aor, 1000.0) == [kept]


def test_schema_is_versioned_and_a_newer_one_is_refused(pg_url: str) -> None:
    import psycopg

    from rfc3261.location_pg import PG_SCHEMA_VERSION

    # Several instances starting at once create the schema once.
    errors: list[BaseException] = []

    def start() -> None:
        try:
            service(pg_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute("SELECT version FROM sipref_location_schema").fetchall()
        assert rows == [(PG_SCHEMA_VERSION,)]
        conn.execute("UPDATE sipref_location_schema SET version = version + 1")
    with pytest.raises(LocationError, match="newer"):
        service(pg_url)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
##= type=test
##% Registrations are soft state and expire unless refreshed, but can
##% also be explicitly removed.
def test_expiry_by_several_instances(pg_url: str) -> None:
    aor = "sip:carol@example.com"
    with (
        service(pg_url, expire_grace=5.0, expire_batch=2) as a,
        service(pg_url, expire_grace=5.0) as b,
    ):
        old = [Binding(aor, f"sip:c@192.0.2.{n}", 100.0, "c", 1) for n in range(5)]
        fresh = Binding(aor, "sip:c@192.0.2.99", 200.0, "c", 1)
        a.update(aor, [*old, fresh], [], 0.0)
        # Expired bindings are never returned, before anyone deletes them.
        assert a.lookup(aor, 100.0) == [fresh] and b.count(100.0) == 1
        # Within the grace (an instance whose clock runs ahead) nothing is deleted.
        assert b.expire(104.0) == 0
        assert b.next_expiry() == 105.0
        # Then every expired one goes, in batches, and never the fresh one.
        assert a.expire(106.0) == 5 and b.expire(106.0) == 0
        assert b.bindings(aor, 106.0) == [fresh] and a.next_expiry() == 205.0


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If the binding does not exist, it is tentatively added.
def test_a_contact_whose_binding_expired_is_new_again(pg_url: str) -> None:
    aor = "sip:eve@example.com"
    with service(pg_url) as loc:
        first = Binding(aor, "sip:e@192.0.2.1", 100.0, "c", 1)
        second = Binding(aor, "sip:e@192.0.2.2", 300.0, "c", 1)
        loc.update(aor, [first, second], [], 0.0)
        # At 150 the first has expired (not yet deleted): registering it again adds it last.
        again = Binding(aor, "sip:e@192.0.2.1", 500.0, "other", 1)
        loc.update(aor, [again], [], 150.0)
        assert loc.bindings(aor, 150.0) == [second, again]


def test_expiry_never_loses_a_refresh_and_skips_held_rows(pg_url: str) -> None:
    import psycopg

    aor = "sip:dave@example.com"
    with (
        service(pg_url, expire_grace=0.0) as registrar,
        service(pg_url, expire_grace=0.0) as janitor,
    ):
        registrar.update(aor, [Binding(aor, "sip:d@192.0.2.1", 100.0, "c", 1)], [], 0.0)
        with registrar.transaction(aor, 150.0):
            assert registrar.bindings(aor, 150.0) == []  # expired: the contact is new
            registrar.update(aor, [Binding(aor, "sip:d@192.0.2.1", 300.0, "c", 2)], [], 150.0)
            # Another instance expires the old row meanwhile: the refresh still lands.
            assert janitor.expire(150.0) == 1
        assert [b.cseq for b in janitor.bindings(aor, 150.0)] == [2]
        # A row another transaction holds is skipped, and deleted once released.
        with psycopg.connect(pg_url) as holder:
            holder.execute("SELECT 1 FROM sipref_binding WHERE aor = %s FOR UPDATE", (aor,))
            assert janitor.expire(1000.0) == 0
        assert janitor.expire(1000.0) == 1


# -- the registrar on the shared store -------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If they are the same, the
##% registrar compares the CSeq value.  If the value is higher than
##% that of the existing binding, it MUST update or remove the
##% binding as above.  If not, the update MUST be aborted and the
##% request fails.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% If it does agree, it MUST
##% remove the binding only if the CSeq in the request is higher
##% than the value stored for that binding.  Otherwise, the update
##% MUST be aborted and the request fails.
def test_registrars_on_two_instances_check_cseq_and_star(pg_url: str) -> None:
    config = RegistrarConfig(domains=frozenset({"example.com"}))
    with service(pg_url) as one, service(pg_url) as two:
        first, second = Registrar(one, config), Registrar(two, config)
        now = time.time()
        assert first.handle(register(cseq=5, expires=600), now).status == 200
        # The UA fails over to the other instance with an older CSeq: refused there too.
        assert second.handle(register(cseq=4, expires=600), now).status == 400
        assert second.handle(register(cseq=6, expires=600), now).status == 200
        star = register(contacts=("*",), expires=0, cseq=6)
        assert first.handle(star, now).status == 400  # not higher than the stored 6
        star = register(contacts=("*",), expires=0, cseq=7)
        ok = first.handle(star, now)
        assert ok.status == 200 and ok.contact == []
        assert second.location.lookup("sip:alice@example.com", now) == []


class _Recording:
    """What the property test needs from a store: the order in which REGISTERs finish
    holding the AOR's lock (their serialization order), and a pause after the read that
    widens every race window."""

    def __init__(self, inner: Any, order: list[int], lock: threading.Lock) -> None:
        self.inner = inner
        self.order = order
        self.lock = lock
        self.current = -1
        self.pause = 0.0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    @contextlib.contextmanager
    def transaction(self, aor: str, now: float) -> Iterator[None]:
        with self.inner.transaction(aor, now):
            try:
                yield
            finally:
                # Still inside the transaction: the AOR is locked, so this is its order.
                with self.lock:
                    self.order.append(self.current)

    def bindings(self, aor: str, now: float) -> list[Binding]:
        found = self.inner.bindings(aor, now)
        time.sleep(self.pause)
        return found


# One REGISTER of the property test: (instance 0/1, contact, expires, pause after read).
_CONTACTS = ("<sip:u@192.0.2.1>", "<sip:u@192.0.2.1;transport=udp>", "<sip:u@192.0.2.2>",
             "<sip:U@192.0.2.3>", "<sip:u@192.0.2.4>", "*")  # fmt: skip
_operation = st.tuples(
    st.integers(0, 1),
    st.sampled_from(_CONTACTS),
    st.sampled_from((0, 600, 600, 600)),
    st.sampled_from((0.0, 0.0005, 0.002)),
)


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% REGISTER requests MUST also be processed atomically, meaning that a
##% particular REGISTER request is either processed completely or not at
##% all.
##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##= type=test
##% Each REGISTER message MUST be processed independently of any other
##% registration or binding changes.
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=st.lists(_operation, min_size=2, max_size=10))
def test_concurrent_registers_for_one_aor_serialize(
    postgres_url_for_property: str, operations: list[tuple[int, str, int, float]]
) -> None:
    """Two registrars on two connections run their REGISTERs for one AOR at once; the
    responses and the bindings left equal a serial run, in the order they held the lock,
    on the SQLite reference: no binding lost, none duplicated, no limit overrun."""
    aor_user = f"u{next(_counter)}"
    aor = f"sip:{aor_user}@example.com"
    config = RegistrarConfig(domains=frozenset({"example.com"}), max_bindings_per_aor=3)
    order: list[int] = []
    lock = threading.Lock()
    stores = [_Recording(_shared_service(postgres_url_for_property, n), order, lock)
              for n in (0, 1)]  # fmt: skip
    registrars = [Registrar(store, config) for store in stores]
    now = time.time()
    # One Call-ID (a UA failing over between instances), CSeq in generation order.
    requests: list[Request] = []
    for cseq, (_, contact, expires, _) in enumerate(operations, 1):
        expires = 0 if contact == "*" else expires
        contacts = (contact.replace("sip:u@", f"sip:{aor_user}@"),)
        requests.append(register(aor, contacts=contacts, expires=expires, cseq=cseq,
                                 call_id="failover"))  # fmt: skip
    statuses: dict[int, int] = {}

    def run(instance: int) -> None:
        for index, (which, _, _, pause) in enumerate(operations):
            if which != instance:
                continue
            stores[instance].current, stores[instance].pause = index, pause
            statuses[index] = registrars[instance].handle(requests[index], now).status

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(order) == list(range(len(operations)))
    # The serial replay, in the lock order, on the reference store.
    reference = Registrar(SqliteLocationService(), config)
    for index in order:
        assert reference.handle(requests[index], now).status == statuses[index], (order, index)
    expected = [(b.contact, b.cseq) for b in reference.location.bindings(aor, now)]
    found = stores[0].inner.bindings(aor, now)
    assert sorted((b.contact, b.cseq) for b in found) == sorted(expected)
    assert len(found) <= 3


_shared: dict[tuple[str, int], Any] = {}


def _shared_service(url: str, n: int) -> Any:
    """Two connections kept across the property test's examples (connecting is slow)."""
    if (url, n) not in _shared:
        _shared[(url, n)] = service(url)
    return _shared[(url, n)]


@pytest.fixture(scope="module")
def postgres_url_for_property(postgres: TempPostgres) -> Iterator[str]:
    import psycopg

    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute("CREATE DATABASE property")
    url = f"postgresql://postgres@127.0.0.1:{postgres.port}/property"
    yield url
    for key in [k for k in _shared if k[0] == url]:
        _shared.pop(key).close()


# -- the programs as processes ------------------------------------------------------------


def start(program: str, url: str, tmp_path: Path, *extra: str) -> ServerProcess:
    return ServerProcess(
        program, "--listen", "sip:127.0.0.1:0", "--domain", DOMAIN, "--db", url,
        "--min-expires", "1", *extra, cwd=tmp_path,
    )  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.1
##= type=test
##% The only requirement is that a registrar for some domain MUST be able to
##% read and write data to the location service, and a proxy or a redirect
##% server for that domain MUST be capable of reading that same data.
def test_two_registrars_and_a_proxy_share_the_bindings(pg_url: str, tmp_path: Path) -> None:
    one, two = start("registrar", pg_url, tmp_path), start("registrar", pg_url, tmp_path)
    proxy = start("proxy", pg_url, tmp_path, "--no-registrar", "--no-record-route")
    ua, caller = Client(), Client()
    try:
        contact = f"<sip:erin@127.0.0.1:{ua.port}>"
        assert ua.register(one.port, "erin", contact, 600).status == 200
        # The other registrar lists the binding made at the first ...
        query = ua.register(two.port, "erin", None)
        assert query.status == 200 and contacts_of(query) == [f"sip:erin@127.0.0.1:{ua.port}"]
        # ... and a proxy in front of it finds the UA.
        message = caller.request("MESSAGE", f"sip:erin@{DOMAIN}", [("To", f"<sip:erin@{DOMAIN}>")])
        caller.send(message, ("127.0.0.1", proxy.port))
        forwarded = ua.receive()
        assert isinstance(forwarded, Request) and forwarded.method == "MESSAGE"
        assert str(forwarded.uri) == f"sip:erin@127.0.0.1:{ua.port}"
        # A removal at the second is seen by the first.
        assert ua.register(two.port, "erin", contact, 0, cseq=2).status == 200
        assert contacts_of(ua.register(one.port, "erin", None)) == []
    finally:
        ua.close()
        caller.close()
        for server in (one, two, proxy):
            assert server.stop() == 0


def _slow_writes(url: str, seconds: float) -> None:
    """Every binding written from now on takes ``seconds``: a trigger sleeps inside the
    REGISTER's transaction, while it holds its AOR's lock."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION sipref_slow() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER sipref_slow BEFORE INSERT ON sipref_binding"
            " FOR EACH ROW EXECUTE FUNCTION sipref_slow()"
        )


def _answered_after(client: Client, port: int, registers: list[tuple[str, int]]) -> list[Any]:
    """Send REGISTERs (user, CSeq; one Call-ID per user) at once; (status, CSeq, seconds)
    of each final response, in the order they came."""
    started = time.monotonic()
    for user, cseq in registers:
        headers = [("To", f"<sip:{user}@{DOMAIN}>"), ("Contact", f"<sip:{user}@127.0.0.1:5990>")]
        request = client.request(
            "REGISTER", f"sip:{DOMAIN}", headers, call_id=f"{user}-c", cseq=cseq
        )
        request.headers.set("From", f"<sip:{user}@{DOMAIN}>;tag={secrets.token_hex(4)}")
        client.send(request, ("127.0.0.1", port))
    answers = []
    for _ in registers:
        response = client.final(timeout=10)
        answers.append((response.status, response.cseq.number, time.monotonic() - started))
    return answers


def test_one_registrar_has_registers_of_several_aors_in_flight(
    pg_url: str, tmp_path: Path
) -> None:
    """With the database slowed down, two AORs' REGISTERs sent at once to one process are
    both answered after about one delay (on two database workers), not two; on the
    event loop alone (``--db-workers 0``) the second waits for the first."""
    delay = 0.6
    overlapped = start("registrar", pg_url, tmp_path)
    alone = start("registrar", pg_url, tmp_path, "--db-workers", "0")
    client = Client()
    try:
        _slow_writes(pg_url, delay)
        answers = _answered_after(client, overlapped.port, [("ann", 1), ("ben", 1)])
        assert [status for status, _, _ in answers] == [200, 200]
        assert delay <= max(seconds for _, _, seconds in answers) < 1.6 * delay, answers
        answers = _answered_after(client, alone.port, [("cid", 1), ("dot", 1)])
        assert [status for status, _, _ in answers] == [200, 200]
        assert max(seconds for _, _, seconds in answers) >= 2 * delay, answers
    finally:
        client.close()
        for server in (overlapped, alone):
            assert server.stop() == 0


def test_registers_of_one_aor_on_workers_keep_their_order(pg_url: str, tmp_path: Path) -> None:
    """Three REGISTERs of one Call-ID (CSeq 1, 2, 3) sent at once to a process with four
    database workers: each is processed after the previous one (none refused as out of
    order), and the binding keeps the last CSeq.  (The AOR lock alone happens to keep
    this order, as the workers send their lock requests in turn;
    ``test_registrar_workers`` shows the edge's own per-AOR queue doing it.)"""
    import psycopg

    server = start("registrar", pg_url, tmp_path)
    client = Client()
    try:
        _slow_writes(pg_url, 0.2)
        answers = _answered_after(client, server.port, [("eve", 1), ("eve", 2), ("eve", 3)])
        assert [(status, cseq) for status, cseq, _ in answers] == [(200, 1), (200, 2), (200, 3)]
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT cseq FROM sipref_binding").fetchall()
        assert rows == [(3,)]
    finally:
        client.close()
        assert server.stop() == 0


def test_bindings_survive_program_restarts(pg_url: str, tmp_path: Path) -> None:
    client = Client()
    try:
        server = start("registrar", pg_url, tmp_path)
        assert client.register(server.port, "fay", "<sip:fay@127.0.0.1:5999>", 600).status == 200
        server.process.kill()  # no clean shutdown at all
        server.stop()
        server = start("proxy", pg_url, tmp_path)  # the proxy's embedded registrar
        query = client.register(server.port, "fay", None)
        assert contacts_of(query) == ["sip:fay@127.0.0.1:5999"]
        assert client.register(server.port, "gus", "<sip:gus@127.0.0.1:5998>", 600).status == 200
        assert server.stop() == 0
        server = start("registrar", pg_url, tmp_path)
        assert contacts_of(client.register(server.port, "gus", None)) == ["sip:gus@127.0.0.1:5998"]
        assert server.stop() == 0
    finally:
        client.close()


def test_database_restart_under_load(tmp_path: Path) -> None:
    """While the database is down REGISTERs get 500 + Retry-After; what was committed
    stays; the registrar resumes by itself when the database is back."""
    import psycopg

    database = TempPostgres(require_postgres())
    database.start()
    database.wait_ready()
    server = start("registrar", database.conninfo, tmp_path)
    client = Client()
    accepted: list[str] = []
    refused: list[tuple[int, str | None]] = []
    try:

        def burst(count: int) -> None:
            for _ in range(count):
                user = f"load{len(accepted) + len(refused)}"
                ok = client.register(server.port, user, f"<sip:{user}@127.0.0.1:5997>", 600)
                if ok.status == 200:
                    accepted.append(user)
                else:
                    refused.append((ok.status, ok.headers.get("Retry-After")))

        burst(30)
        assert len(accepted) == 30
        database.stop("fast")
        burst(10)
        assert len(accepted) == 30 and len(refused) == 10
        assert all(status in (500, 503) and after for status, after in refused), refused
        database.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(accepted) < 40:
            burst(1)
            time.sleep(0.05)
        assert len(accepted) >= 40, refused[-3:]
        with psycopg.connect(database.conninfo) as conn:
            stored = {row[0] for row in conn.execute("SELECT aor FROM sipref_binding")}
        assert stored == {f"sip:{user}@{DOMAIN}" for user in accepted}
        assert "Traceback" not in server.log_text()  # every failure was answered, not raised
    finally:
        client.close()
        assert server.stop() == 0
        database.close()


# -- a store that fails ------------------------------------------------------------------


class _DownStore(SqliteLocationService):
    """A store whose database is unreachable."""

    def lookup(self, aor: str, now: float) -> list[Binding]:
        raise LocationError("connection refused")

    def bindings(self, aor: str, now: float) -> list[Binding]:
        raise LocationError("connection refused")


def test_a_failed_store_gets_500_or_503_with_retry_after() -> None:
    from rfc3261.message import Response
    from rfc3261.proxy import Proxy, ProxyConfig

    registrar = Registrar(_DownStore(), RegistrarConfig(domains=frozenset({"example.com"})))
    refused = registrar.handle(register(), 0.0)
    assert refused.status == 500 and refused.headers.get("Retry-After") == "5"
    proxy = Proxy(ProxyConfig(host="192.0.2.1", domains=frozenset({"example.com"})),
                  _DownStore(), registrar=False)  # fmt: skip
    invite = Request(
        "MESSAGE", "sip:bob@example.com",
        [("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKdown"), ("Max-Forwards", "70"),
         ("To", "<sip:bob@example.com>"), ("From", "<sip:al@example.com>;tag=1"),
         ("Call-ID", "down"), ("CSeq", "1 MESSAGE"), ("Content-Length", "0")],
    )  # fmt: skip
    sends = proxy.receive_request(invite, "src", 0.0)
    answers = [s.message for s in sends if isinstance(s.message, Response)]
    assert [r.status for r in answers] == [503]
    assert answers[0].headers.get("Retry-After") == "5"


def test_bench_floors_and_table() -> None:
    from rfc3261.bench import location_pg as bench

    passed = {"register": {"scaling_two_vs_one": 1.7, "postgresql_vs_sqlite": 0.6}}
    assert bench.floors_passed(passed) is True
    slow = {"register": {"scaling_two_vs_one": 1.5, "postgresql_vs_sqlite": 0.6}}
    assert bench.floors_passed(slow) is False
    assert bench.floors_passed({"register": {"skipped": "sipp not found"}}) is None
    assert "skipped: no server" in bench.render({"skipped": "no server"})


def test_bench_table_shows_the_in_process_cpu() -> None:
    from rfc3261.bench import location_pg as bench

    cpu = {
        "cpu_us_median": {"sqlite": 180.0, "postgresql": 350.0},
        "cpu_postgresql_over_sqlite": 1.94,
        "postgresql": [{"server_cpu_us": 250.0}, {"server_cpu_us": 270.0}],
    }
    doc = {"register_in_process": cpu, "register": {"skipped": "sipp not found"},
           "lookup": [{"bindings": 1000, "lookup_us_median": 80.0, "lookup_us_p99": 900.0,
                       "count_all_ms": 1.0, "plan": ["Index Scan"]}]}  # fmt: skip
    table = bench.render(doc)
    assert "SQLite 180.0 us, PostgreSQL 350.0 us (x1.94) + 260.0 us" in table


def test_bench_table_shows_the_workers_sweep_and_the_machine_load() -> None:
    from rfc3261.bench import location_pg as bench

    step = {"rate": 1600, "server_cpu_us_per_register": 450.0, "persisted_bindings": 6400,
            "machine_busy": 0.97}  # fmt: skip
    register = {name: {"best": step} for name in ("sqlite_1", "postgresql_1", "postgresql_2")} | {
        "db_workers": 4,
        "postgresql_1_by_workers": {
            "0": {"best_rate": 300, "peak_answered_per_second": 421.9},
            "8": {"best_rate": 1300, "peak_answered_per_second": 1357.4},
        },
    }
    doc = {"register": register, "lookup": [{"bindings": 1000, "lookup_us_median": 80.0,
           "lookup_us_p99": 900.0, "count_all_ms": 1.0, "plan": ["Index Scan"]}]}  # fmt: skip
    table = bench.render(doc)
    assert "6400 persisted, machine CPUs 97% busy" in table
    assert "by --db-workers, clean REGISTER/s (peak): 0: 300 (421.9), 8: 1300 (1357.4);" in table
    assert "default 4 above" in table
