"""RFC 6665 on the wire: the notifier's cases (UAS role, `uas`) and the subscriber's (UAC
role, `uac`: the runner is the notifier a UA under test subscribes to)."""

from . import uac, uas

__all__ = ["uac", "uas"]
