"""The location service on PostgreSQL, shared by several registrars and proxies (RFC 3261 §10).

:class:`PostgresLocationService` implements :class:`rfc3261.location.LocationService`
on a PostgreSQL server (``psycopg`` 3, the optional extra ``sipref[postgresql]``).
Every registrar and proxy instance of a domain opens it with the same connection
string (``--db postgresql://...``) and sees the same bindings: a UA that registers at
one instance is found by a proxy in front of any other.

How it keeps §10.3 correct with several writers:

- **One transaction per REGISTER.**  :meth:`PostgresLocationService.transaction`
  spans the registrar's steps 6 and 7: the read of the current bindings, the
  Call-ID/CSeq checks, the ``*`` removal and the writes commit together or not at all.
- **One writer per address-of-record at a time.**  The transaction first takes a
  transaction-scoped advisory lock keyed by the AOR (``pg_advisory_xact_lock``), so a
  second instance's REGISTER for the same AOR waits until the first commits and then
  reads what it wrote; REGISTERs for other AORs do not wait.  Why not ``SELECT ... FOR
  UPDATE``: an AOR with no binding yet has no row to lock (the first two REGISTERs of
  a user would race); why not SERIALIZABLE: a conflict aborts one transaction, which
  would have to run the §10.3 steps again (the sans-I/O core would need a retry loop),
  and the predicate locks of range reads abort unrelated AORs too.  A waiting lock
  never deadlocks here: a transaction takes exactly one.
- **Expiry by any instance.**  Reads ignore bindings whose ``expires_at`` is not after
  ``now``, so an expired binding is never returned, whoever deletes it and when.
  :meth:`PostgresLocationService.expire` deletes only bindings expired by more than
  ``expire_grace`` seconds (a clock running ahead on one host cannot delete bindings
  the others still count as current), in batches, skipping rows another transaction
  holds (``FOR UPDATE SKIP LOCKED``): a binding being refreshed is never deleted, and
  several instances expiring at once do not queue behind each other.

The interface is synchronous, like the SQLite one: the sans-I/O registrar and proxy
call it inside their handling of one message.  Each call is one or two short
statements on one connection per process (pipelined: a REGISTER costs two round
trips), so the event loop is blocked for the database's round-trip time, not more.
That is the price of keeping the core sans-I/O and synchronous; a deployment that
needs more REGISTERs per second runs more processes (see the PostgreSQL guide).
When the server is unreachable every call raises :class:`LocationError` at once (the
registrar answers 500 with Retry-After); the connection is opened again on a later
call, at most once per ``retry_interval`` seconds, so the service resumes by itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .location import Binding, LocationError

__all__ = ["PG_SCHEMA_VERSION", "PostgresLocationService", "is_postgres_url"]

# The schema's version, kept in the one-row table sipref_location_schema.
PG_SCHEMA_VERSION = 1

# Any number not used for another advisory lock: serializes schema creation.
_SCHEMA_LOCK = 0x5195EF

_CREATE = (
    """CREATE TABLE sipref_binding (
    aor text NOT NULL,
    contact text NOT NULL,
    expires_at double precision NOT NULL,
    call_id text NOT NULL,
    cseq bigint NOT NULL,
    q double precision,
    received text,
    path text[] NOT NULL DEFAULT '{}',
    flow text,
    extra jsonb NOT NULL DEFAULT '{}',
    added bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (aor, contact)
)""",
    # Look-ups use the primary key (aor first); expiry and next_expiry this index.
    "CREATE INDEX sipref_binding_expires ON sipref_binding (expires_at)",
)

_COLUMNS = "aor, contact, expires_at, call_id, cseq, q, received, path, flow, extra"
_SELECT = (
    f"SELECT {_COLUMNS} FROM sipref_binding WHERE aor = %s AND expires_at > %s ORDER BY added"
)
# Insert a binding, or refresh it in place (an existing row keeps its "added" order).
_UPSERT = (
    f"INSERT INTO sipref_binding ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (aor, contact) DO UPDATE SET expires_at = excluded.expires_at,"
    " call_id = excluded.call_id, cseq = excluded.cseq, q = excluded.q,"
    " received = excluded.received, path = excluded.path, flow = excluded.flow,"
    " extra = excluded.extra"
)
# Expired rows nobody else holds, a batch at a time.
_EXPIRE = (
    "DELETE FROM sipref_binding WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM sipref_binding WHERE expires_at <= %s"
    " LIMIT %s FOR UPDATE SKIP LOCKED))"
)


def is_postgres_url(db: str) -> bool:
    """Whether a ``--db`` value names a PostgreSQL database rather than an SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def _binding(row: tuple[Any, ...]) -> Binding:
    aor, contact, expires_at, call_id, cseq, q, received, path, flow, extra = row
    return Binding(
        aor, contact, expires_at, call_id, cseq, q, received, tuple(path), flow, dict(extra)
    )


class PostgresLocationService:
    """Bindings in a PostgreSQL database that several processes share.

    ``conninfo`` is a libpq connection string or URI (``postgresql://user@host/db``;
    ``?options=-c%20synchronous_commit%3Doff`` trades the last commits before a server
    crash for speed, like SQLite's "NORMAL").  One connection, used by one thread.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: int = 2,
        retry_interval: float = 0.5,
        expire_grace: float = 30.0,
        expire_batch: int = 1000,
    ) -> None:
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self.retry_interval = retry_interval
        self.expire_grace = expire_grace
        self.expire_batch = expire_batch
        self._conn: psycopg.Connection[Any] | None = None
        self._retry_at = float("-inf")
        self._in_transaction = False
        self._connection(None)  # fail early (bad URL, wrong password, newer schema)

    # -- the connection

    def _connection(self, now: float | None) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._drop()
        if now is not None and now < self._retry_at:
            raise LocationError("location service: database unreachable (retrying shortly)")
        try:
            conn = psycopg.connect(
                self.conninfo, autocommit=True, connect_timeout=self.connect_timeout
            )
            self._migrate(conn)
        except psycopg.Error as exc:
            self._retry_at = (now or 0.0) + self.retry_interval
            raise LocationError(f"location service: {exc}") from exc
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg errors become LocationError; a broken connection is dropped."""
        try:
            yield
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._drop()
            raise LocationError(f"location service: {exc}") from exc

    @staticmethod
    def _migrate(conn: psycopg.Connection[Any]) -> None:
        """Create the tables on first use, or check their version, in one transaction
        (instances starting together wait on one advisory lock)."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS sipref_location_schema (version integer)")
            row = conn.execute("SELECT max(version) FROM sipref_location_schema").fetchone()
            version = row[0] if row and row[0] is not None else 0
            if version > PG_SCHEMA_VERSION:
                raise psycopg.errors.FeatureNotSupported(
                    f"location database schema {version} is newer than this code's"
                    f" {PG_SCHEMA_VERSION}"
                )
            if version == 0:
                for statement in _CREATE:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO sipref_location_schema VALUES (%s)", (PG_SCHEMA_VERSION,)
                )

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> PostgresLocationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one REGISTER

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% REGISTER requests MUST also be processed atomically, meaning that a
    ##% particular REGISTER request is either processed completely or not at
    ##% all.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% Each REGISTER message MUST be processed independently of any other
    ##% registration or binding changes.
    @contextlib.contextmanager
    def transaction(self, aor: str, now: float) -> Iterator[None]:
        """One REGISTER's reads and writes of ``aor``: committed together when the block
        ends, rolled back when it raises; other instances' REGISTERs for ``aor`` wait."""
        if self._in_transaction:
            raise ValueError("location service transactions do not nest")
        conn = self._connection(now)
        self._in_transaction = True
        try:
            with self._errors(), conn.pipeline(), conn.transaction():
                # hashtextextended: the AOR's 64-bit key (two AORs sharing one only wait).
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (aor,))
                yield
        finally:
            self._in_transaction = False

    # -- reading

    def bindings(self, aor: str, now: float) -> list[Binding]:
        with self._errors():
            rows = self._connection(now).execute(_SELECT, (aor, now)).fetchall()
        return [_binding(row) for row in rows]

    def lookup(self, aor: str, now: float) -> list[Binding]:
        # Highest q first (absent q counts as 1.0, §20.10), ties in registration order.
        found = self.bindings(aor, now)
        return sorted(found, key=lambda b: -(1.0 if b.q is None else b.q))

    def count(self, now: float, aor: str | None = None) -> int:
        with self._errors():
            conn = self._connection(now)
            if aor is None:
                query = "SELECT count(*) FROM sipref_binding WHERE expires_at > %s"
                row = conn.execute(query, (now,)).fetchone()
            else:
                query = "SELECT count(*) FROM sipref_binding WHERE aor = %s AND expires_at > %s"
                row = conn.execute(query, (aor, now)).fetchone()
        return int(row[0]) if row else 0

    def next_expiry(self) -> float | None:
        """When :meth:`expire` will next have something to delete (grace included)."""
        with self._errors():
            row = (
                self._connection(None)
                .execute("SELECT min(expires_at) FROM sipref_binding")
                .fetchone()
            )
        return None if row is None or row[0] is None else float(row[0]) + self.expire_grace

    # -- writing

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The binding updates MUST be committed (that is, made visible to the
    ##% proxy or redirect server) if and only if all binding updates and
    ##% additions succeed.
    def update(
        self, aor: str, store: Sequence[Binding], remove: Iterable[str], now: float
    ) -> None:
        if not self._in_transaction:
            with self.transaction(aor, now):
                self.update(aor, store, remove, now)
            return
        conn = self._connection(now)
        with self._errors():
            # This AOR's expired bindings go first: a contact whose binding has expired
            # is new again (§10.3 step 7 "If the binding does not exist").
            conn.execute(
                "DELETE FROM sipref_binding WHERE aor = %s"
                " AND (expires_at <= %s OR contact = ANY(%s))",
                (aor, now, list(remove)),
            )
            if store:
                conn.cursor().executemany(
                    _UPSERT,
                    [
                        (
                            aor,
                            b.contact,
                            b.expires_at,
                            b.call_id,
                            b.cseq,
                            b.q,
                            b.received,
                            list(b.path),
                            b.flow,
                            Jsonb(b.extra),
                        )
                        for b in store
                    ],
                )

    def remove(self, aor: str, contact: str | None = None) -> int:
        with self._errors():
            conn = self._connection(None)
            if contact is None:
                cursor = conn.execute("DELETE FROM sipref_binding WHERE aor = %s", (aor,))
            else:
                cursor = conn.execute(
                    "DELETE FROM sipref_binding WHERE aor = %s AND contact = %s", (aor, contact)
                )
        return cursor.rowcount

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% Registrations are soft state and expire unless refreshed, but can
    ##% also be explicitly removed.
    def expire(self, now: float) -> int:
        """Delete bindings expired by more than ``expire_grace`` seconds; how many."""
        removed = 0
        with self._errors():
            conn = self._connection(now)
            while True:
                cursor = conn.execute(_EXPIRE, (now - self.expire_grace, self.expire_batch))
                removed += cursor.rowcount
                if cursor.rowcount < self.expire_batch:
                    return removed
