"""The presence event package (RFC 3856) and its PIDF documents (RFC 3863).

:data:`PRESENCE` is the :class:`~extensions.rfc6665.EventPackage` called ``presence``:
its NOTIFYs (and PUBLISHes, RFC 3903) carry ``application/pidf+xml`` documents, read
and written here with :mod:`xml.etree.ElementTree` as :class:`Presence` values -- an
entity and its tuples, each with an ``id`` and a basic status ``open`` or ``closed``
(RFC 3863 §4.1).  A document that is not well-formed PIDF raises ValueError (the
framework answers 400).  Several publications for one presentity compose by the union
of their tuples (:func:`compose`), which is what the event state compositor of
:mod:`extensions.rfc3903` serves.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .rfc6665 import EventPackage, register_event_package

__all__ = ["PIDF", "PIDF_NS", "PRESENCE", "Presence", "PresencePackage", "Tuple", "compose"]

PIDF = "application/pidf+xml"
PIDF_NS = "urn:ietf:params:xml:ns:pidf"
_Q = f"{{{PIDF_NS}}}"
# RFC 3863 §4.1.1/§4.1.2: entity is a URI; tuple id an XML ID (an NCName).
_NCNAME = re.compile(r"[A-Za-z_][\w.\-]*")


@dataclass(frozen=True)
class Tuple:
    """One PIDF tuple: its id, basic status and optional contact and note (RFC 3863 §4.1.2)."""

    id: str
    basic: str | None
    contact: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Presence:
    """A PIDF presence document: the presentity and its tuples (RFC 3863 §4.1)."""

    entity: str
    tuples: tuple[Tuple, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def basic(self) -> str | None:
        """ "open" when any tuple is open, else "closed", or None with no status at all."""
        states = [t.basic for t in self.tuples if t.basic is not None]
        if not states:
            return None
        return "open" if "open" in states else "closed"

    ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
    ##% All subscribers and notifiers MUST support the "application/pidf+xml"
    ##% presence data format described in [6].
    def to_xml(self) -> bytes:
        """The document as ``application/pidf+xml`` (UTF-8, with the XML declaration)."""
        ET.register_namespace("", PIDF_NS)
        root = ET.Element(f"{_Q}presence", {"entity": self.entity})
        for item in self.tuples:
            node = ET.SubElement(root, f"{_Q}tuple", {"id": item.id})
            status = ET.SubElement(node, f"{_Q}status")
            if item.basic is not None:
                ET.SubElement(status, f"{_Q}basic").text = item.basic
            if item.contact is not None:
                ET.SubElement(node, f"{_Q}contact").text = item.contact
            if item.note is not None:
                ET.SubElement(node, f"{_Q}note").text = item.note
        for note in self.notes:
            ET.SubElement(root, f"{_Q}note").text = note
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    @classmethod
    def from_xml(cls, data: bytes) -> Presence:
        """Parse a PIDF document; ValueError names what is wrong with it."""
        try:
            root = ET.fromstring(data)
        except ET.ParseError as error:
            raise ValueError(f"not well-formed XML: {error}") from None
        if root.tag != f"{_Q}presence":
            raise ValueError(f"root element {root.tag!r} is not PIDF <presence>")
        entity = root.get("entity")
        if not entity or ":" not in entity:
            raise ValueError("<presence> needs an entity URI (RFC 3863 §4.1.1)")
        tuples = []
        seen: set[str] = set()
        for node in root.findall(f"{_Q}tuple"):
            tuple_id = node.get("id")
            if not tuple_id or not _NCNAME.fullmatch(tuple_id) or tuple_id in seen:
                raise ValueError(f"tuple id {tuple_id!r} is missing, not an ID or repeated")
            seen.add(tuple_id)
            status = node.find(f"{_Q}status")
            if status is None:
                raise ValueError(f"tuple {tuple_id!r} has no <status> (RFC 3863 §4.1.3)")
            basic_node = status.find(f"{_Q}basic")
            basic = basic_node.text.strip() if basic_node is not None and basic_node.text else None
            if basic_node is not None and basic not in ("open", "closed"):
                raise ValueError(f"<basic> is {basic!r}, not open or closed (RFC 3863 §4.1.4)")
            contact = node.find(f"{_Q}contact")
            note = node.find(f"{_Q}note")
            tuples.append(
                Tuple(
                    tuple_id,
                    basic,
                    contact.text.strip() if contact is not None and contact.text else None,
                    note.text if note is not None else None,
                )
            )
        notes = tuple(n.text or "" for n in root.findall(f"{_Q}note"))
        return cls(entity, tuple(tuples), notes)

    @classmethod
    def basic_status(
        cls, entity: str, basic: str, *, tuple_id: str = "t1", contact: str | None = None
    ) -> Presence:
        """A one-tuple document saying ``open`` or ``closed``."""
        if basic not in ("open", "closed"):
            raise ValueError(f"basic status {basic!r} is not open or closed (RFC 3863 §4.1.4)")
        ##= https://www.rfc-editor.org/rfc/rfc3903#section-10.4
        ##% In presence publication, the EPA MUST keep the "id" attributes of
        ##% tuples consistent in the context of an entity-tag.  If a
        ##% publication modifies the contents of a tuple, that tuple MUST
        ##% maintain its original "id".
        # (One fixed tuple id per document made here: "t1" unless told otherwise.)
        return cls(entity, (Tuple(tuple_id, basic, contact),))


def compose(entity: str, documents: list[Presence]) -> Presence | None:
    """The presentity's state from several publications: the union of their tuples.

    A tuple id published twice keeps the most recent (the last in ``documents``).
    """
    if not documents:
        return None
    tuples: dict[str, Tuple] = {}
    for document in documents:
        for item in document.tuples:
            tuples.pop(item.id, None)
            tuples[item.id] = item
    return Presence(entity, tuple(tuples.values()))


class PresencePackage(EventPackage):
    """``presence`` (RFC 3856 §6): PIDF bodies, 3600 s by default, one NOTIFY per 5 s."""

    ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
    ##% If the result of the authorization decision was success, a NOTIFY
    ##% SHOULD be sent and SHOULD contain a presence document with the current
    ##% state of the presentity.
    ##= https://www.rfc-editor.org/rfc/rfc3903#section-10.1
    ##% A PUA that uses PUBLISH to publish presence state to the PA MUST
    ##% support the PIDF presence format.
    def render(self, state: Any, content_type: str | None) -> tuple[bytes, str | None]:
        if state is None:
            return b"", None
        if isinstance(state, Presence):
            return state.to_xml(), PIDF
        return super().render(state, content_type)

    ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.2
    ##% For pending subscriptions, the state of the presentity SHOULD include
    ##% some kind of textual note that indicates a pending status.
    ##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.2
    ##% The contents of the presence document in such a NOTIFY are at the
    ##% discretion of the implementor, but SHOULD be constructed in such a way
    ##% as to not reveal to the subscriber that their request has actually
    ##% been blocked.
    def pending_state(self, resource: str) -> Presence:
        """A document without tuples and with a note: the same for every pending watcher."""
        return Presence(f"sip:{resource}", (), ("Subscription pending",))

    def state_from_text(self, text: str, resource: str) -> Presence:
        """``open`` or ``closed``: a one-tuple document for ``resource`` (a URI)."""
        return Presence.basic_status(resource, text)

    def parse(self, body: bytes, content_type: str | None) -> Presence | None:
        if not body:
            return None
        if content_type is not None and content_type != PIDF:
            raise ValueError(f"{content_type} is not {PIDF}")
        return Presence.from_xml(body)


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##% If the header field is present, it MUST include "application/pidf+xml"
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.10
##% A PA SHOULD NOT generate notifications for a single presentity at a
##% rate of more than once every five seconds.
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##% The body of the NOTIFY MUST be sent using one of the types listed in
##% the Accept header field in the most recent SUBSCRIBE request, or using
##% the type "application/pidf+xml" if no Accept header field was present.
#: The presence event package (RFC 3856 §6.4: default Expires 3600).
PRESENCE = register_event_package(
    PresencePackage(
        "presence",
        accept=(PIDF,),
        default_expires=3600,
        min_expires=60,
        max_expires=3600,
        min_interval=5.0,
    )
)
