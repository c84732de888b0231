"""The Replaces header field (RFC 3891): one dialog taking the place of another.

Seed of the module: how the dialog to replace is named.  The rest (the header field's
grammar and registration, the ``replaces`` option tag, the UAS matching of §3, 481 and
486, ``early-only``) builds on it.
"""

from __future__ import annotations

from rfc3261.dialog import DialogId

__all__ = ["replaces_value"]


##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##% The
##% User Agent Client (UAC) places the Call-ID, to-tag, and from-tag
##% information for the target dialog in a single Replaces header field
def replaces_value(dialog: DialogId, *, early_only: bool = False) -> str:
    """The Replaces value naming ``dialog`` (this UA's view of it) to the dialog's peer.

    The peer matches the to-tag against its local tag and the from-tag against its remote
    tag (§3): so the to-tag is our remote tag and the from-tag our local tag.
    """
    if not dialog.call_id or dialog.local_tag is None or dialog.remote_tag is None:
        raise ValueError("a Replaces value needs the Call-ID and both tags of the dialog")
    value = f"{dialog.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"
    return value + (";early-only" if early_only else "")
