"""The offer/answer seam of INVITE sessions (RFC 3261 §13.2.1, §13.3.1, §14; RFC 3264 §4).

RFC 3261 carries session descriptions and says in which messages an offer and its
answer may travel; what a description *says* is RFC 3264's business (SDP, RFC 8866).
Two small objects keep those apart, so that the extensions that move offers in other
messages (reliable provisional responses and PRACK, RFC 3262; UPDATE, RFC 3311),
the SDP model (RFC 3264) and session timers (RFC 4028) all share one picture:

- :class:`Negotiation` -- where one INVITE usage stands: no offer outstanding, an
  offer sent and not yet answered, or an offer received and not yet answered; the
  descriptions last sent and received.  A step out of order (a second offer while one
  is outstanding) raises :class:`OfferAnswerError`; an extension asks
  :attr:`Negotiation.offer_pending` before it sends one (and answers 491 to a peer
  that did, RFC 3311 §5.2).
- :class:`SessionDescriber` -- the policy that writes descriptions: a fresh offer, an
  answer to an offer (or None to refuse it: 488).  The default treats descriptions as
  opaque bytes, as RFC 3261 alone does: it offers and answers with the call's current
  local description.  An SDP extension installs its own on the session manager.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Negotiation",
    "NegotiationState",
    "OfferAnswerError",
    "OpaqueDescriber",
    "Refusal",
    "SessionDescriber",
]


class OfferAnswerError(ValueError):
    """An offer or answer out of the order RFC 3264 §4 allows."""


class NegotiationState(enum.Enum):
    IDLE = "no offer outstanding"
    OFFER_SENT = "offer sent, waiting for the answer"
    OFFER_RECEIVED = "offer received, the answer is owed"


@dataclass(eq=False)
class Negotiation:
    """The offer/answer state of one INVITE usage (RFC 3264 §4)."""

    state: NegotiationState = NegotiationState.IDLE
    local: bytes | None = None  # the description last sent (offer or answer)
    remote: bytes | None = None  # the description last received (offer or answer)
    # The descriptions in force before the outstanding offer, restored on rejection.
    _before: tuple[bytes | None, bytes | None] = (None, None)

    @property
    def before(self) -> tuple[bytes | None, bytes | None]:
        """The (local, remote) descriptions in force before the last offer."""
        return self._before

    @property
    def offer_pending(self) -> bool:
        """True while an offer, sent or received, waits for its answer."""
        return self.state is not NegotiationState.IDLE

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-4
    ##% However, it MUST NOT generate a new offer if it has
    ##% received an offer which it has not yet answered or rejected.
    ##= https://www.rfc-editor.org/rfc/rfc3264#section-4
    ##% Furthermore, it MUST NOT generate a new offer if it has generated a
    ##% prior offer for which it has not yet received an answer or a
    ##% rejection.
    def offer_sent(self, body: bytes) -> None:
        """We sent ``body`` as an offer."""
        if self.state is NegotiationState.OFFER_RECEIVED:
            raise OfferAnswerError("an offer received is not answered yet (RFC 3264 §4)")
        if self.state is NegotiationState.OFFER_SENT:
            raise OfferAnswerError("our previous offer is not answered yet (RFC 3264 §4)")
        self._before = (self.local, self.remote)
        self.state, self.local = NegotiationState.OFFER_SENT, body

    def offer_received(self, body: bytes) -> None:
        """The peer sent ``body`` as an offer (glare if ours is outstanding)."""
        if self.state is NegotiationState.OFFER_SENT:
            raise OfferAnswerError("glare: an offer crossed ours (RFC 3264 §4)")
        if self.state is NegotiationState.OFFER_RECEIVED:
            raise OfferAnswerError("a second offer before we answered the first (RFC 3264 §4)")
        self._before = (self.local, self.remote)
        self.state, self.remote = NegotiationState.OFFER_RECEIVED, body

    def answer_sent(self, body: bytes) -> None:
        """We answered the peer's offer with ``body``."""
        if self.state is not NegotiationState.OFFER_RECEIVED:
            raise OfferAnswerError("no offer to answer (RFC 3264 §4)")
        self.state, self.local = NegotiationState.IDLE, body

    def answer_received(self, body: bytes) -> None:
        """The peer answered our offer with ``body``."""
        if self.state is not NegotiationState.OFFER_SENT:
            raise OfferAnswerError("an answer without an offer of ours (RFC 3264 §4)")
        self.state, self.remote = NegotiationState.IDLE, body

    ##= https://www.rfc-editor.org/rfc/rfc3264#section-4
    ##% The offer/answer exchange is atomic; if
    ##% the answer is rejected, the session reverts to the state prior to the
    ##% offer (which may be absence of a session).
    def rejected(self) -> None:
        """The outstanding offer was refused (a non-2xx to a re-INVITE, a 488)."""
        if self.state is not NegotiationState.IDLE:
            self.local, self.remote = self._before
            self.state = NegotiationState.IDLE


@dataclass(frozen=True)
class Refusal:
    """Why a describer refuses an offer: the text and code of a Warning (RFC 3261 §20.43)."""

    reason: str
    code: int = 399  # 399: miscellaneous; 3xx codes name SDP problems (305: format)

    def warning(self, host: str) -> str:
        """A Warning header field value (its text a quoted-string: no quote or control)."""
        text = "".join(c if c.isprintable() and c not in '"\\' else "'" for c in self.reason)
        return f'{self.code} {host} "{text[:200]}"'


class SessionDescriber:
    """Writes the session descriptions of calls; an SDP extension overrides it."""

    def refusal(self, call: Any, offer: bytes) -> Refusal | None:
        """Why ``offer`` is not acceptable (a 488 carries it), or None to answer it."""
        return None

    def offer(self, call: Any) -> bytes:
        """A new offer for ``call`` (a 2xx to an INVITE without one; a re-INVITE)."""
        raise NotImplementedError

    def answer(self, call: Any, offer: bytes) -> bytes | None:
        """The answer to ``offer`` received in ``call``; None: not acceptable (488)."""
        raise NotImplementedError

    def decline(self, call: Any, offer: bytes) -> bytes:
        """A valid answer refusing ``offer`` (for the ACK of a 2xx, before a BYE)."""
        return call.local_body


class OpaqueDescriber(SessionDescriber):
    """RFC 3261 alone: descriptions are opaque; offer and answer with the local one."""

    def offer(self, call: Any) -> bytes:
        return call.local_body

    def answer(self, call: Any, offer: bytes) -> bytes | None:
        return call.local_body
