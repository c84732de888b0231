"""The location service: bindings of addresses-of-record to contact addresses (RFC 3261 §10).

A registrar writes bindings here (§10.3) and a proxy reads them when it determines
targets (§16.5).  :class:`LocationService` is the interface both use; it is small on
purpose, so that a registrar and several proxies can share one database.
:class:`SqliteLocationService` keeps the bindings in SQLite (standard ``sqlite3``,
WAL journal) in a file, or in ``":memory:"`` for tests.

Time: every call takes ``now``.  Bindings persist across restarts, so ``now`` must be
a clock that survives them: seconds since the epoch (``time.time()``) in production;
tests pass any consistent numbers.  A binding whose ``expires_at`` is not later than
``now`` is gone: lookups never return it, and :meth:`LocationService.expire` deletes it.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .uri import parse_uri, uri_equal

__all__ = [
    "SCHEMA_VERSION",
    "Binding",
    "LocationError",
    "LocationService",
    "SqliteLocationService",
]


class LocationError(Exception):
    """The location service could not read or commit bindings (a back-end failure)."""


##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
##% Each binding record records the Call-ID and CSeq values from the request.
@dataclass(frozen=True, slots=True)
class Binding:
    """One binding: an address-of-record (canonical, §10.3 step 5) to one contact address.

    ``contact`` is the Contact URI as the UA wrote it (without header parameters);
    ``expires_at`` the absolute time it ends; ``q`` its preference (§20.10), or None;
    ``call_id``/``cseq`` of the REGISTER that last wrote it; ``received`` where that
    REGISTER came from.  What extensions keep per binding (set by a registrar
    extension, read by a proxy): ``path``, the route set a proxy pushes as Route
    values in front of a request it forwards to this contact (RFC 3327's path
    vector), in order; ``flow``, an opaque token naming the connection or flow
    the REGISTER came on (RFC 5626), which the proxy hands to its edge; ``extra``,
    other short strings (e.g. RFC 5626 instance-id and reg-id).
    """

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    q: float | None = None
    received: str | None = None
    path: tuple[str, ...] = ()
    flow: str | None = None
    extra: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Cheap checks of what the store cannot represent (it runs per binding read).
        if not isinstance(self.path, tuple):
            raise TypeError(f"Binding.path must be a tuple of Route values, not {self.path!r}")
        if any("\n" in value for value in self.path):
            raise ValueError("a Binding.path value cannot contain a line break")
        if self.flow is not None and not isinstance(self.flow, str):
            raise TypeError(f"Binding.flow must be a string token or None, not {self.flow!r}")
        if not isinstance(self.extra, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.extra.items()
        ):
            raise TypeError(f"Binding.extra must map strings to strings, not {self.extra!r}")

    def expires_in(self, now: float) -> int:
        """Seconds left, rounded up (what the 200 OK reports in ``expires``)."""
        return max(0, math.ceil(self.expires_at - now))

    def matches(self, contact: str) -> bool:
        """Whether ``contact`` names the same address, by the URI comparison rules (§19.1.4)."""
        if contact == self.contact:
            return True
        try:
            return uri_equal(parse_uri(contact), parse_uri(self.contact))
        except ValueError:
            return False


class LocationService(Protocol):
    """What a registrar and a proxy need from the bindings store.

    ``update`` is the only write of a REGISTER: it applies every change for one
    address-of-record at once, or none (§10.3: "processed atomically").  The
    registrar reads and writes an AOR inside ``transaction``, so that a REGISTER's
    checks and changes commit together even when several processes share the store.
    """

    def transaction(self, aor: str, now: float) -> contextlib.AbstractContextManager[None]:
        """A context in which one REGISTER reads and updates ``aor`` alone: committed
        when it ends, rolled back when it raises; raises :class:`LocationError` when
        the store fails."""
        ...

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """The current bindings of ``aor``, most preferred (highest q) first."""
        ...

    def bindings(self, aor: str, now: float) -> list[Binding]:
        """The current bindings of ``aor`` in the order they were first added."""
        ...

    def update(
        self, aor: str, store: Sequence[Binding], remove: Iterable[str], now: float
    ) -> None:
        """Atomically write ``store`` (insert or replace by contact) and delete the
        contacts in ``remove``; raise :class:`LocationError` and change nothing on failure."""
        ...

    def remove(self, aor: str, contact: str | None = None) -> int:
        """Delete one binding of ``aor`` (or all of them); return how many."""
        ...

    def expire(self, now: float) -> int:
        """Delete every binding that has expired by ``now``; return how many."""
        ...

    def count(self, now: float, aor: str | None = None) -> int:
        """How many current bindings ``aor`` has (all AORs when None)."""
        ...

    def next_expiry(self) -> float | None:
        """When the earliest binding expires; None when there are none."""
        ...


# The schema's version, kept in SQLite's ``user_version``.  Version 0 (before
# ``user_version`` was set) lacks the flow and extra columns; opening such a file
# migrates it in place (:func:`_migrate`).
SCHEMA_VERSION = 1

_CREATE = (
    """CREATE TABLE IF NOT EXISTS binding (
    aor TEXT NOT NULL,
    contact TEXT NOT NULL,
    expires_at REAL NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    q REAL,
    received TEXT,
    path TEXT NOT NULL DEFAULT '',
    added INTEGER NOT NULL,
    flow TEXT,
    extra TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (aor, contact)
)""",
    "CREATE INDEX IF NOT EXISTS binding_expires ON binding (expires_at)",
)
# Version 0 -> 1: the per-binding data of extensions (RFC 3327 Path, RFC 5626 flows).
_MIGRATE_0_TO_1 = (
    "ALTER TABLE binding ADD COLUMN flow TEXT",
    "ALTER TABLE binding ADD COLUMN extra TEXT NOT NULL DEFAULT ''",
)

_COLUMNS = "aor, contact, expires_at, call_id, cseq, q, received, path, flow, extra"
# Insert a binding, or refresh it in place (an existing row keeps its "added" order).
_UPSERT = (
    f"INSERT INTO binding ({_COLUMNS}, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (aor, contact) DO UPDATE SET expires_at = excluded.expires_at,"
    " call_id = excluded.call_id, cseq = excluded.cseq, q = excluded.q,"
    " received = excluded.received, path = excluded.path, flow = excluded.flow,"
    " extra = excluded.extra"
)


def _migrate(db: sqlite3.Connection) -> None:
    """Create the table, or bring an older one to :data:`SCHEMA_VERSION`, in one
    transaction (several processes may open the same file at once)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise LocationError(
                f"location database schema {version} is newer than this code's {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION:
            exists = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'binding'"
            ).fetchone()
            for statement in _MIGRATE_0_TO_1 if exists else _CREATE:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _binding(row: tuple) -> Binding:
    aor, contact, expires_at, call_id, cseq, q, received, path, flow, extra = row
    return Binding(
        aor,
        contact,
        expires_at,
        call_id,
        cseq,
        q,
        received,
        tuple(path.split("\n")) if path else (),
        flow,
        json.loads(extra) if extra else {},
    )


class SqliteLocationService:
    """Bindings in an SQLite database (a file in WAL mode, or ``":memory:"``).

    Several processes may open the same file: every REGISTER is one SQLite
    transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``), so writers are serialized by
    the database and readers see only committed bindings.  ``synchronous`` is
    SQLite's durability setting: "NORMAL" (the default here) loses at most the
    last transactions on power loss, never the database; "FULL" syncs every commit.
    """

    def __init__(self, path: str = ":memory:", *, synchronous: str = "NORMAL") -> None:
        self.path = path
        # isolation_level=None: transactions are begun and committed explicitly below.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous setting {synchronous!r}")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        try:
            _migrate(self._db)
        except (sqlite3.Error, LocationError) as exc:
            self._db.close()
            if isinstance(exc, LocationError):
                raise
            raise LocationError(f"location service: {exc}") from exc
        # Registration order, continued from the table after a restart.
        row = self._db.execute("SELECT COALESCE(MAX(added), 0) FROM binding").fetchone()
        self._order = int(row[0])
        self._in_transaction = False

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteLocationService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading

    def bindings(self, aor: str, now: float) -> list[Binding]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM binding WHERE aor = ? AND expires_at > ? ORDER BY added",
            (aor, now),
        ).fetchall()
        return [_binding(row) for row in rows]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.1
    ##% The only requirement is that a registrar for some domain MUST be able to
    ##% read and write data to the location service, and a proxy or a redirect
    ##% server for that domain MUST be capable of reading that same data.
    def lookup(self, aor: str, now: float) -> list[Binding]:
        # Highest q first (absent q counts as 1.0, §20.10 "q" default); ties keep
        # registration order, so the result is deterministic.
        found = self.bindings(aor, now)
        return sorted(found, key=lambda b: -(1.0 if b.q is None else b.q))

    def count(self, now: float, aor: str | None = None) -> int:
        if aor is None:
            row = self._db.execute(
                "SELECT COUNT(*) FROM binding WHERE expires_at > ?", (now,)
            ).fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM binding WHERE aor = ? AND expires_at > ?", (aor, now)
            ).fetchone()
        return int(row[0])

    def next_expiry(self) -> float | None:
        row = self._db.execute("SELECT MIN(expires_at) FROM binding").fetchone()
        return None if row[0] is None else float(row[0])

    # -- writing

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.1
    ##% The only requirement is that a registrar for some domain MUST be able to
    ##% read and write data to the location service, and a proxy or a redirect
    ##% server for that domain MUST be capable of reading that same data.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% REGISTER requests MUST also be processed atomically, meaning that a
    ##% particular REGISTER request is either processed completely or not at
    ##% all.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.3
    ##% The binding updates MUST be committed (that is, made visible to the
    ##% proxy or redirect server) if and only if all binding updates and
    ##% additions succeed.
    @contextlib.contextmanager
    def transaction(self, aor: str, now: float) -> Iterator[None]:
        """One SQLite transaction (``BEGIN IMMEDIATE``: other processes' writers wait)."""
        if self._in_transaction:
            raise ValueError("location service transactions do not nest")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise LocationError(f"location service: {exc}") from exc
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise LocationError(f"location service: {exc}") from exc

    def update(
        self, aor: str, store: Sequence[Binding], remove: Iterable[str], now: float
    ) -> None:
        if not self._in_transaction:
            with self.transaction(aor, now):
                self.update(aor, store, remove, now)
            return
        db = self._db
        try:
            # Expired bindings of this AOR go first: a contact whose binding has
            # expired is new again (§10.3 step 7 "If the binding does not exist").
            db.execute("DELETE FROM binding WHERE aor = ? AND expires_at <= ?", (aor, now))
            for contact in remove:
                db.execute("DELETE FROM binding WHERE aor = ? AND contact = ?", (aor, contact))
            for b in store:
                self._order += 1
                db.execute(
                    _UPSERT,
                    (
                        aor,
                        b.contact,
                        b.expires_at,
                        b.call_id,
                        b.cseq,
                        b.q,
                        b.received,
                        "\n".join(b.path),
                        b.flow,
                        json.dumps(b.extra, sort_keys=True) if b.extra else "",
                        self._order,
                    ),
                )
        except sqlite3.Error as exc:
            raise LocationError(f"location service: {exc}") from exc

    def remove(self, aor: str, contact: str | None = None) -> int:
        try:
            if contact is None:
                cursor = self._db.execute("DELETE FROM binding WHERE aor = ?", (aor,))
            else:
                cursor = self._db.execute(
                    "DELETE FROM binding WHERE aor = ? AND contact = ?", (aor, contact)
                )
        except sqlite3.Error as exc:
            raise LocationError(f"location service: {exc}") from exc
        return cursor.rowcount

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2.2
    ##% Registrations are soft state and expire unless refreshed, but can
    ##% also be explicitly removed.
    def expire(self, now: float) -> int:
        try:
            cursor = self._db.execute("DELETE FROM binding WHERE expires_at <= ?", (now,))
        except sqlite3.Error as exc:
            raise LocationError(f"location service: {exc}") from exc
        return cursor.rowcount
