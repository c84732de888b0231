"""Event state publication: PUBLISH, SIP-ETag and SIP-If-Match (RFC 3903).

Two roles:

- the **event publication agent** (EPA, §4, §5): :class:`PublisherExtension` on a UA.
  ``publisher.publish("sip:alice@example.com", "presence", state, now)`` sends an
  initial PUBLISH and returns a :class:`Publication`, which keeps the entity-tag the
  compositor answered with (SIP-ETag), refreshes the publication before it expires
  (SIP-If-Match, no body: §4.3), and offers ``modify(state, now)`` (§4.4) and
  ``remove(now)`` (Expires: 0, §4.5).  One PUBLISH per Request-URI is in flight at a
  time (§4); a 412 discards the tag and publishes the state again from scratch (§5); a
  423 retries with the Min-Expires of the answer (§5).
- the **event state compositor** (ESC, §6): :class:`EventStateCompositor` on a UA that
  also has an :class:`~extensions.rfc6665.EventsExtension`.  It answers PUBLISH
  following the steps of §6 (404, 489, 412, 423 + Min-Expires, 415, 400, atomically),
  keeps publications in a :class:`PublicationStore` -- SQLite, in the same file as
  the registrar's bindings when given that path, a table of its own with its own
  schema version, surviving restarts -- and composes the state of a resource from its
  live publications (presence: the union of PIDF tuples, :func:`extensions.rfc3856.compose`),
  which the events extension renders in the NOTIFYs of every subscription to it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rfc3261 import abnf
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, Owner, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import NameAddr, register_header
from rfc3261.message import Request, Response

from .rfc3856 import Presence, compose
from .rfc6665 import EVENT_PACKAGES, EventPackage, EventsExtension, resource_key

if TYPE_CHECKING:  # pragma: no cover
    from rfc3261.ua_core import Timer, UserAgent

__all__ = [
    "PUBLICATION_SCHEMA_VERSION",
    "EventStateCompositor",
    "Publication",
    "PublicationResult",
    "PublicationStore",
    "PublisherExtension",
    "StoredPublication",
]

_TOKEN = re.compile(abnf.token)


def _entity_tag(value: str, header: str) -> str:
    value = value.strip()
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
    ##% This header field MUST contain a single entity-tag that was returned
    ##% by the ESC in the SIP-ETag header field of the response to a previous
    ##% publication.
    if not _TOKEN.fullmatch(value):
        raise ParseError(f"{value!r} is not an entity-tag", "RFC 3903 §11.3", header)
    return value


def parse_sip_etag(value: str) -> str:
    """A SIP-ETag value: one entity-tag, a token (§11.3.1)."""
    return _entity_tag(value, "SIP-ETag")


def parse_sip_if_match(value: str) -> str:
    """A SIP-If-Match value: one entity-tag, a token (§11.3.2)."""
    return _entity_tag(value, "SIP-If-Match")


def register_headers() -> None:
    """SIP-ETag and SIP-If-Match (§11.3.1, §11.3.2)."""
    register_header("SIP-ETag", parse_sip_etag, rfc=3903, section="11.3.1")
    register_header("SIP-If-Match", parse_sip_if_match, rfc=3903, section="11.3.2")


# -- the publisher (EPA, §4, §5) -----------------------------------------------------------


@dataclass
class PublicationResult(UAEvent):
    """The final response to one PUBLISH of ``publication``."""

    publication: Publication
    response: Response
    operation: str

    def describe(self) -> str:
        """One line for a log or a terminal."""
        response = self.response
        etag = response.header("SIP-ETag") if response.status < 300 else None
        tag = f", SIP-ETag {etag}" if etag else ""
        return (
            f"PUBLISH {self.publication.target} ({self.operation}): "
            f"{response.status} {response.reason}{tag}"
        )


@dataclass(eq=False)
class Publication(Owner):
    """Event state published for one resource and package, kept alive by refreshes."""

    extension: PublisherExtension
    target: str
    package: EventPackage
    expires: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    expires_at: float | None = None
    refresh_timer: Timer | None = None
    in_flight: str | None = None
    queued: list[tuple[str, bytes, str | None]] = field(default_factory=list)
    removed: bool = False

    def modify(self, state: Any, now: float) -> list[UAEffect]:
        """Publish new state in place of the old (§4.4); text goes through ``state_from_text``."""
        if isinstance(state, str):
            state = self.package.state_from_text(state, self.target)
        body, content_type = _render(self.package, state)
        self.body, self.content_type = body, content_type
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
        ##% However, if the EPA expects an appropriate, locally stored
        ##% entity-tag to still be valid, it SHOULD first try to modify that
        ##% event state as described in Section 4.4, instead of submitting an
        ##% initial publication.
        return self._request("modify" if self.etag else "initial", now)

    def remove(self, now: float) -> list[UAEffect]:
        """Remove the published state at once (§4.5)."""
        self.removed = True
        if self.refresh_timer is not None:
            self.refresh_timer.cancel()
            self.refresh_timer = None
        if self.etag is None:
            return []
        return self._request("remove", now)

    def refresh(self, now: float) -> list[UAEffect]:
        """Extend the publication (§4.3)."""
        self.refresh_timer = None
        if self.removed or self.etag is None:
            return []
        return self._request("refresh", now)

    ##= https://www.rfc-editor.org/rfc/rfc3903#section-4
    ##% EPAs MUST NOT send a new PUBLISH request (not a re-transmission) for
    ##% the same Request-URI, until they have received a final response from
    ##% the ESC for the previous one or the previous PUBLISH request has timed
    ##% out.
    def _request(self, operation: str, now: float) -> list[UAEffect]:
        if self.in_flight is not None:
            self.queued.append((operation, self.body, self.content_type))
            return []
        ext = self.extension
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
        ##% For determining the type of the published event state, the EPA MUST
        ##% include a single Event header field in PUBLISH requests.
        headers: list[tuple[str, Any]] = [("Event", self.package.name)]
        body, content_type = b"", None
        if operation == "initial":
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
            ##% An initial PUBLISH request MUST NOT contain a SIP-If-Match header
            ##% field.
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
            ##% An initial PUBLISH request MUST contain a body that contains the
            ##% published event state.
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
            ##% An initial PUBLISH request MAY contain a single Expires header field.
            body, content_type = self.body, self.content_type
            headers.append(("Expires", str(self.expires)))
        else:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
            ##% When updating previously published event state, PUBLISH requests
            ##% MUST contain a single SIP-If-Match header field identifying the
            ##% specific event state that the request is refreshing, modifying or
            ##% removing.
            headers.append(("SIP-If-Match", self.etag))
            if operation == "remove":
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
                ##% To request the immediate removal of event state, an EPA MUST create
                ##% a PUBLISH request with an Expires value of "0", and set the SIP-If-
                ##% Match header field to contain the entity-tag of the event state
                ##% publication to be removed.
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
                ##% Therefore, a PUBLISH request that removes
                ##% event state MUST NOT contain a body.
                headers.append(("Expires", "0"))
            elif operation == "modify":
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
                ##% To modify event state, the EPA MUST construct a PUBLISH request that
                ##% includes in a SIP-If-Match header field the entity-tag of the event
                ##% state publication to be modified.  A PUBLISH request that modifies
                ##% event state MUST contain a body that includes the modified event
                ##% state.
                body, content_type = self.body, self.content_type
                headers.append(("Expires", str(self.expires)))
            else:
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
                ##% To refresh a publication, the EPA MUST create a PUBLISH request that
                ##% includes in a SIP-If-Match header field the entity-tag of the
                ##% publication to be refreshed.
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
                ##% Therefore, a PUBLISH request that refreshes event state
                ##% MUST NOT have a body.
                headers.append(("Expires", str(self.expires)))
        to = NameAddr.parse(self.target if "<" in self.target else f"<{self.target}>")
        request = ext.ua.build_request(
            "PUBLISH", to, contact=False, headers=headers, body=body, content_type=content_type
        )
        self.in_flight = operation
        _, effects = ext.ua.send(request, now, owner=self)
        return effects

    def on_response(self, client: ClientRequest, response: Response, now: float) -> list[UAEffect]:
        if response.status < 200:
            return []
        operation = self.in_flight or "?"
        self.in_flight = None
        effects: list[UAEffect] = [PublicationResult(self, response, operation)]
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-4
        ##% The Record-Route header field has no meaning in PUBLISH requests or
        ##% responses, and MUST be ignored if present.  In particular, the UAC
        ##% MUST NOT create a new route set based on the presence or absence of
        ##% a Record-Route header field in any response to a PUBLISH request.
        if 200 <= response.status < 300:
            if operation == "remove":
                self.etag = None
                self.expires_at = None
            else:
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
                ##% The EPA MUST store this entity-tag, replacing any existing entity-tag
                ##% for the refreshed event state.
                ##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
                ##% The EPA MUST store this entity-tag, replacing any
                ##% existing entity-tag for the modified event state.
                self.etag = response.header("SIP-ETag") or self.etag
                granted = response.expires if response.expires is not None else self.expires
                self.expires_at = now + granted
                self._schedule_refresh(granted, now)
        elif response.status == 412:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-5
            ##% If an EPA receives a 412 (Conditional Request Failed) response, it
            ##% MUST NOT reattempt the PUBLISH request.  Instead, to publish event
            ##% state, the EPA SHOULD perform an initial publication, i.e., a PUBLISH
            ##% request without a SIP-If-Match header field, as described in Section
            ##% 4.2.  The EPA MUST also discard the entity-tag that produced this
            ##% error response.
            self.etag = None
            if not self.removed and operation != "remove" and self.body:
                self.queued.insert(0, ("initial", self.body, self.content_type))
        elif response.status == 423 and not self.removed:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-5
            ##% If an EPA receives a 423 (Interval Too Brief) response to a PUBLISH
            ##% request, it MAY retry the publication after changing the expiration
            ##% interval in the Expires header field to be equal to or greater than
            ##% the expiration interval within the Min-Expires header field of the
            ##% 423 (Interval Too Brief) response.
            minimum = response.header("Min-Expires")
            if minimum is not None and minimum > self.expires:
                self.expires = minimum
                self.queued.insert(0, (operation, self.body, self.content_type))
        if self.queued:
            next_operation, self.body, self.content_type = self.queued.pop(0)
            if next_operation != "initial" and self.etag is None:
                next_operation = "initial"
            if next_operation != "remove" or self.etag is not None:
                effects.extend(self._request(next_operation, now))
        return effects

    def _schedule_refresh(self, granted: int, now: float) -> None:
        if self.refresh_timer is not None:
            self.refresh_timer.cancel()
        self.refresh_timer = None
        if self.removed or granted <= 0:
            return
        ua = self.extension.ua
        lead = min(granted / 2, 64 * ua.timers.T1)
        self.refresh_timer = ua.call_at(now + granted - lead, self.refresh)


def _render(package: EventPackage, state: Any) -> tuple[bytes, str | None]:
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], bytes):
        return state
    return package.render(state, None)


class PublisherExtension(UAExtension):
    """The EPA of RFC 3903 §4-§5 on one UA (it sends PUBLISH; it does not accept it)."""

    name = "publisher"

    def __init__(self, packages: list[EventPackage] | tuple[EventPackage, ...] = ()) -> None:
        # Without a list: every package registered so far (what a program loads by name).
        self.packages = {p.name: p for p in packages or list(EVENT_PACKAGES.values())}
        self.publications: list[Publication] = []

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_headers()

    def publish(
        self, target: str, package: str, state: Any, now: float, *, expires: int = 3600
    ) -> tuple[Publication, list[UAEffect]]:
        """Publish ``state`` (rendered by the package; text: ``state_from_text``) (§4.2)."""
        pkg = self.packages.get(package)
        if pkg is None:
            raise ValueError(f"no event package {package!r} installed")
        if isinstance(state, str):
            state = pkg.state_from_text(state, target)
        if expires <= 0:
            raise ValueError("an initial publication needs a positive Expires (§4.2)")
        body, content_type = _render(pkg, state)
        if not body:
            raise ValueError("an initial PUBLISH carries the state (RFC 3903 §4.2)")
        publication = Publication(self, target, pkg, expires, body, content_type)
        self.publications.append(publication)
        return publication, publication._request("initial", now)


# -- the compositor's store (§6) ---------------------------------------------------------

#: The version of the publication table, kept in its own one-row table (the
#: location service owns SQLite's user_version of a shared file).
PUBLICATION_SCHEMA_VERSION = 1

_CREATE = (
    "CREATE TABLE IF NOT EXISTS publication_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS publication (
    resource TEXT NOT NULL,
    event TEXT NOT NULL,
    etag TEXT NOT NULL PRIMARY KEY,
    expires_at REAL NOT NULL,
    content_type TEXT,
    body BLOB NOT NULL,
    seq INTEGER NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS publication_resource ON publication (resource, event)",
    "CREATE INDEX IF NOT EXISTS publication_expires ON publication (expires_at)",
)


@dataclass(frozen=True)
class StoredPublication:
    """One publication as the compositor keeps it."""

    resource: str
    event: str
    etag: str
    expires_at: float
    content_type: str | None
    body: bytes
    seq: int


class PublicationStore:
    """Publications in SQLite: a file (shared with the location service) or memory.

    Every PUBLISH is one transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``): applied
    completely or not at all (§6).  ``now`` is a clock that survives restarts (seconds
    since the epoch in a program).
    """

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _CREATE:
                self._db.execute(statement)
            row = self._db.execute("SELECT version FROM publication_schema").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO publication_schema VALUES (?)", (PUBLICATION_SCHEMA_VERSION,)
                )
            elif row[0] > PUBLICATION_SCHEMA_VERSION:
                raise ValueError(f"publication schema {row[0]} is newer than this code's")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            self._db.close()
            raise
        self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM publication").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def find(self, etag: str, now: float) -> StoredPublication | None:
        row = self._db.execute(
            "SELECT * FROM publication WHERE etag = ? AND expires_at > ?", (etag, now)
        ).fetchone()
        return StoredPublication(*row) if row else None

    def current(self, resource: str, event: str, now: float) -> list[StoredPublication]:
        """The live publications of ``resource``, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM publication WHERE resource = ? AND event = ? AND expires_at > ?"
            " ORDER BY seq",
            (resource, event, now),
        ).fetchall()
        return [StoredPublication(*row) for row in rows]

    def replace(self, old: str | None, new: StoredPublication | None) -> None:
        """Atomically delete entity-tag ``old`` and store ``new`` (either may be None)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if old is not None:
                self._db.execute("DELETE FROM publication WHERE etag = ?", (old,))
            if new is not None:
                self._db.execute(
                    "INSERT INTO publication VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        new.resource,
                        new.event,
                        new.etag,
                        new.expires_at,
                        new.content_type,
                        new.body,
                        new.seq,
                    ),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def used(self, etag: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM publication WHERE etag = ?", (etag,)).fetchone()
            is not None
        )

    def expire(self, now: float) -> set[tuple[str, str]]:
        """Delete the expired publications; the (resource, event) pairs they were for."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT DISTINCT resource, event FROM publication WHERE expires_at <= ?", (now,)
            ).fetchall()
            self._db.execute("DELETE FROM publication WHERE expires_at <= ?", (now,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return {(r, e) for r, e in rows}

    def next_expiry(self) -> float | None:
        return self._db.execute("SELECT MIN(expires_at) FROM publication").fetchone()[0]

    def count(self, now: float) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM publication WHERE expires_at > ?", (now,)
        ).fetchone()[0]


# -- the compositor (§6) -----------------------------------------------------------------


class EventStateCompositor(UAExtension):
    """PUBLISH answered and composed (§6); the state served through ``events``."""

    name = "esc"
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-7
    ##% In the response to an OPTIONS request, the ESC SHOULD include
    ##% "PUBLISH" to the list of allowed methods in the Allow header field.
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-7
    ##% Also, it SHOULD list the supported event packages in an Allow-Events
    ##% header field.
    # (Allow comes from ``methods``; Allow-Events from the events extension, which lists
    # the packages it is the notifier of -- those the compositor serves.)
    methods = ("PUBLISH",)

    def __init__(
        self,
        events: EventsExtension,
        store: PublicationStore | str | None = None,
        *,
        is_responsible: Callable[[Any], bool] = lambda uri: True,
        default_expires: int = 3600,
        min_expires: int = 60,
        max_expires: int = 7200,
        authenticator: Any = None,
    ) -> None:
        self.events = events
        #: A :class:`rfc3261.digest_server.DigestAuthenticator` challenging every PUBLISH
        #: (None: none is challenged).
        self.authenticator = authenticator
        if store is None or isinstance(store, str):
            store = PublicationStore(store or ":memory:")
        self.store = store
        self.is_responsible = is_responsible
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_expires = max_expires
        self._cache: dict[tuple[str, str], Any] = {}
        self._expiry: Timer | None = None
        self._clock = 0.0

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_headers()
        self.events.state_source = self.composed

    @property
    def accept(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(t for p in self.events.packages.values() for t in p.accept)

    # -- the composed state ---------------------------------------------------------------

    def composed(self, package: str, resource: str) -> Any:
        """The state of ``resource`` composed from its live publications."""
        key = (package, resource)
        if key not in self._cache:
            self._cache[key] = self._compose(package, resource)
        return self._cache[key]

    def _compose(self, package: str, resource: str) -> Any:
        pkg = self.events.packages[package]
        rows = self.store.current(resource, package, self._clock)
        if not rows:
            return None
        if package == "presence":
            ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.9
            ##% Therefore, if aggregation is needed, it MUST be done in a PA
            ##% representing the presentity.
            docs = [pkg.parse(r.body, r.content_type) for r in rows]
            return compose(f"sip:{resource}", [d for d in docs if isinstance(d, Presence)])
        return rows[-1].body

    def changed(self, package: str, resource: str, now: float) -> list[UAEffect]:
        self._cache.pop((package, resource), None)
        self._clock = now
        return self.events.notify_watchers(package, resource, now)

    def start(self, now: float) -> list[UAEffect]:
        """After a restart: drop what expired meanwhile and arm the expiry timer."""
        self._clock = now
        effects: list[UAEffect] = []
        for resource, package in self.store.expire(now):
            effects.extend(self.changed(package, resource, now))
        self._arm()
        return effects

    def _arm(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        deadline = self.store.next_expiry()
        if deadline is not None:
            self._expiry = self.ua.call_at(deadline, self._on_expiry)

    def _on_expiry(self, now: float) -> list[UAEffect]:
        self._expiry = None
        self._clock = now
        effects: list[UAEffect] = []
        for resource, package in self.store.expire(now):
            effects.extend(self.changed(package, resource, now))
        self._arm()
        return effects

    # -- PUBLISH (§6) --------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
    ##% PUBLISH requests with the same Request-URI MUST be processed in the
    ##% order that they are received.
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
    ##% PUBLISH requests MUST also be processed
    ##% atomically, meaning that a particular PUBLISH request is either
    ##% processed completely or not at all.
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
    ##% The ESC MUST ignore the Record-Route header field if it is included in
    ##% a PUBLISH request.  The ESC MUST NOT include a Record-Route header
    ##% field in any response to a PUBLISH request.  The ESC MUST ignore the
    ##% Contact header field if one is present in a PUBLISH request.
    def receive_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        ua = self.ua
        self._clock = now
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
        ##% The state agent SHOULD authenticate the EPA, and SHOULD apply its
        ##% authorization policies (e.g., based on access control lists) to all
        ##% requests.
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
        ##% ESCs and EPAs MUST implement Digest for authenticating
        ##% PUBLISH requests, as defined in RFC 3261 [4].
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
        ##% To reduce the chances of such an attack, implementations of ESCs
        ##% SHOULD require authentication of PUBLISH requests.
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
        ##% Implementations MUST support Digest authentication, as
        ##% defined in RFC 3261 [4].
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-14.3
        ##% To prevent replay attacks, implementations MUST support Digest
        ##% authentication with replay protection, as defined in RFC 3261 [4].
        # (rfc3261.digest_server: HMAC nonces with a lifetime, the highest nc kept per nonce.)
        if self.authenticator is not None:
            _, challenge = self.authenticator.authenticate(request, now)
            if challenge is not None:
                return ua.respond_with(server, challenge, now)
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% If not, the ESC MUST return a 404 (Not Found) response and skip the
        ##% remaining steps.
        if not self.is_responsible(request.uri):
            return ua.respond(server, 404, now)
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% If the Event header field is missing or contains an event package
        ##% which the ESC does not support, the ESC MUST respond to the PUBLISH
        ##% request with a 489 (Bad Event) response, and skip the remaining
        ##% steps.
        event = request.header("Event")
        package = self.events.packages.get(event.package) if event is not None else None
        if package is None:
            return ua.respond(
                server, 489, now, reason="Bad Event", headers=self.events._allow_events()
            )
        resource = resource_key(request.uri)
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% If not, the request is invalid, and the ESC MUST
        ##% return with a 400 (Invalid Request) response and skip the remaining
        ##% steps.
        # (SIP-If-Match is read as one token: anything else raises, and the core answers 400.)
        if_match = request.header("SIP-If-Match")
        previous = None
        if if_match is not None:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% If no match is found, the ESC MUST reject the publication with a
            ##% response of 412 (Conditional Request Failed), and skip the remaining
            ##% steps.
            previous = self.store.find(if_match, now)
            if previous is None or previous.resource != resource or previous.event != package.name:
                return ua.respond(server, 412, now, reason="Conditional Request Failed")
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% If the request has an Expires header field, that value MUST be taken
        ##% as the requested expiration.
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% Else, a locally-configured default value
        ##% MUST be taken as the requested expiration.
        expires = request.expires
        if expires is None:
            expires = self.default_expires
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% Only if the requested expiration interval is greater than zero
        ##% and less than a locally-configured minimum, the ESC MAY reject the
        ##% publication with a response of 423 (Interval Too Brief), and skip the
        ##% remaining steps.  This response MUST contain a Min-Expires header
        ##% field that states the minimum expiration interval the ESC is willing
        ##% to honor.
        if 0 < expires < self.min_expires:
            return ua.respond(server, 423, now, headers=[("Min-Expires", str(self.min_expires))])
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% The ESC MAY choose an expiration less than the requested
        ##% expiration interval.
        expires = min(expires, self.max_expires)
        body, content_type = request.body, _mime(request)
        if body:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% If the content type of the request does not match the event package,
            ##% or is not understood by the ESC, the ESC MUST reject the request with
            ##% an appropriate response, such as 415 (Unsupported Media Type), and
            ##% skip the remainder of the steps.
            if package.accept and content_type not in package.accept:
                return ua.respond(
                    server, 415, now, headers=[("Accept", ", ".join(package.accept))]
                )
            try:
                package.parse(body, content_type)
            except ValueError as error:
                return ua.respond(server, 400, now, reason=f"Bad Event State ({error})"[:120])
        elif previous is None:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% If the request has no message body and contained no entity-tag, the
            ##% ESC SHOULD reject the request with an appropriate response, such as
            ##% 400 (Invalid Request), and skip the remainder of the steps.
            return ua.respond(
                server, 400, now, reason="Invalid Request (no body, no SIP-If-Match)"
            )
        else:
            body, content_type = previous.body, previous.content_type  # a refresh
        new: StoredPublication | None = None
        headers: list[tuple[str, str]] = [("Expires", str(expires))]
        if expires > 0:
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% If the request does not contain a SIP-If-Match header field, the ESC
            ##% MUST generate and store a locally unique entity-tag for identifying
            ##% the publication.
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% The ESC MUST generate a new entity-tag for each successful
            ##% publication, replacing any previous entity-tag associated with that
            ##% event state.
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% The generated entity-tag MUST be unique from any other entity-
            ##% tags currently assigned to event state associated with that Request-
            ##% URI, and MUST be different from any entity-tag assigned previously to
            ##% event state for that Request-URI.
            etag = self._new_etag()
            seq = (
                previous.seq
                if previous is not None and not request.body
                else self.store.next_seq()
            )
            new = StoredPublication(
                resource, package.name, etag, now + expires, content_type, body, seq
            )
            ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
            ##% The response MUST also contain a SIP-ETag header field that contains
            ##% a single entity-tag identifying the publication.
            headers.append(("SIP-ETag", etag))
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% If the chosen expiration interval has a special value of "0", the
        ##% event state identified by the entity-tag MUST be immediately removed.
        ##% The ESC MUST NOT store any event state as a result of such a request.
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% The processing of the PUBLISH request MUST be atomic.  If internal
        ##% errors (such as the inability to access a back-end database) occur
        ##% before processing is complete, the publication MUST NOT succeed, and
        ##% the ESC MUST fail with an appropriate error response, such as 504
        ##% (Server Time-out), and skip the last step.
        try:
            self.store.replace(previous.etag if previous is not None else None, new)
        except sqlite3.Error:
            return ua.respond(server, 504, now)
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-6
        ##% The response MUST contain an Expires header field indicating the
        ##% expiration interval chosen by the ESC.
        effects = ua.respond(server, 200, now, headers=headers)
        self._arm()
        if request.body or new is None:
            effects.extend(self.changed(package.name, resource, now))
        return effects

    def _new_etag(self) -> str:
        while True:
            etag = f"{self.ua.rng.getrandbits(64):016x}"
            if not self.store.used(etag):
                return etag


def _mime(message: Request | Response) -> str | None:
    content_type = message.content_type
    return content_type.mime_type.lower() if content_type is not None else None
