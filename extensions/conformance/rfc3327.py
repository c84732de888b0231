"""RFC 3327 (Path) seen at a proxy between a UA and its registrar: the Path it adds to a
REGISTER is loose-routing (;lr, §4) and only for a UA that says ``Supported: path`` (§5.2);
the Path of the registrar's response goes back unchanged (§5.2).  The runner plays the UA
upstream and the registrar downstream (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from conformance.cases._proxy_support import arrives, final_of, reply
from conformance.cases.proxy import FORWARDED
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link, Listener

PROXY = ("proxy",)
#: the registrar's Path in its 200: what the UA must get back, byte for byte
REGISTRAR_PATH = "<sip:edge.invalid;lr;x=1>, <sip:core.invalid;lr>"


def _register(ctx: Context, link: Link, down: Listener, supported: bool) -> Outgoing:
    """A REGISTER for a registrar at ``down`` (the proxy forwards it by its Request-URI)."""
    user = unique("path")
    extra = [("Contact", f"<sip:{user}@{link.sent_by}>"), ("Expires", "60")]
    if supported:
        extra.append(("Supported", "path"))
    req = ctx.request("REGISTER", link, uri=f"sip:{down.hostport}", extra=extra)
    req.set("To", f"<sip:{user}@{down.hostport}>")
    return req


def _through(
    ctx: Context, supported: bool, path: str = "", timeout: float = 3.0
) -> tuple[Message | None, Message | None]:
    """The REGISTER's copy downstream (None: not forwarded) and the final response upstream,
    the runner's registrar answering 200 (with ``Path: path`` when given)."""
    link, down = ctx.link(), ctx.listener()
    req = _register(ctx, link, down, supported)
    link.send(bytes(req))
    got = arrives(down, "REGISTER", req.call_id, timeout=timeout)
    if got is None:
        return None, final_of(link, req, timeout=1.0)
    extra = [("Path", path)] if path else []
    reply(down, got, 200, extra=[("Contact", f"{got[0].get('Contact')};expires=60"), *extra])
    return got[0], final_of(link, req)


def _path_added(ctx: Context) -> list[str]:
    """The preamble: the Path values the proxy adds to a REGISTER of a UA supporting Path;
    not applicable when it adds none (not an edge proxy, or not configured as one)."""
    with ctx.preamble("a REGISTER with Supported: path forwarded"):
        got, final = _through(ctx, True)
        if got is None:
            ctx.inconclusive(f"the REGISTER was not forwarded ({describe(final)})")
    assert got is not None
    paths = [v.strip() for line in got.get_all("Path") for v in line.split(",")]
    if not paths:
        ctx.not_applicable("the proxy adds no Path (an edge proxy option: RFC 3327 §5.1)")
    return paths


##= https://www.rfc-editor.org/rfc/rfc3327#section-4
##= type=test
##% As suggested therein, such values MUST include the loose-routing indicator parameter
##% ";lr" for full compliance with [1].
@case("rfc3327-path-lr", roles=PROXY, no_control=FORWARDED)
def path_lr(ctx: Context) -> None:
    """The Path value the proxy puts on a REGISTER has ;lr."""
    paths = _path_added(ctx)
    ctx.check(all(";lr" in p for p in paths), "every Path value with ;lr", " | ".join(paths))


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% Intermediate proxies SHOULD NOT add a Path header field to a request unless the UA has
##% indicated support for this extension with a Supported header field value.
@case(
    "rfc3327-no-path-without-supported",
    roles=PROXY,
    level="SHOULD",
    no_control="the same REGISTER with Supported: path gets a Path first",
)
def no_path_without_supported(ctx: Context) -> None:
    """A REGISTER without ``Supported: path`` is forwarded without a Path (or refused with
    421 when the proxy needs the registrar's support)."""
    _path_added(ctx)
    got, final = _through(ctx, False)
    if got is None:
        ctx.check(
            final is not None and final.status == 421,
            "forwarded without a Path, or 421",
            describe(final),
        )
        return
    ctx.should(not got.get_all("Path"), "no Path", " | ".join(got.get_all("Path")))


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% Proxies processing a REGISTER response SHOULD NOT alter any Path header field values that
##% may be present in the response.
@case("rfc3327-response-path-unchanged", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def response_path_unchanged(ctx: Context) -> None:
    """The registrar's 200 with a Path reaches the UA with that Path as it was."""
    got, final = _through(ctx, True, REGISTRAR_PATH)
    if got is None or final is None or final.status != 200:
        ctx.inconclusive(f"the REGISTER did not go through ({describe(final)})")
    assert final is not None
    seen = ", ".join(final.get_all("Path"))
    ctx.should(seen == REGISTRAR_PATH, REGISTRAR_PATH, seen or "no Path")


##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% If the UA has indicated support and the proxy requires the registrar to support the Path
##% extension, then the proxy SHOULD insert a Requires header field value for this extension.
##= https://www.rfc-editor.org/rfc/rfc3327#section-5.2
##= type=test
##% If the UA has not indicated support for the extension and the proxy requires support for
##% it in the registrar, the proxy SHOULD reject the request with a 421 response indicating a
##% requirement for the extension.
@case(
    "rfc3327-path-required",
    roles=PROXY,
    level="SHOULD",
    no_control="two REGISTERs, with and without Supported: path: each is the other's control",
)
def path_required(ctx: Context) -> None:
    """A proxy requiring Path at the registrar says so both ways: ``Require: path`` on the
    REGISTER of a UA supporting Path, 421 (with ``Require: path``) to one that does not.

    Not applicable to a proxy that shows neither (it does not require Path support)."""
    got, _final = _through(ctx, True)
    # a refusal comes at once: a short wait for a forwarded copy
    refused_got, refused = _through(ctx, False, timeout=1.0)
    if got is None:
        ctx.inconclusive("the REGISTER with Supported: path was not forwarded")
    assert got is not None
    required = "path" in [t.strip().lower() for v in got.get_all("Require") for t in v.split(",")]
    rejected = refused_got is None and refused is not None and refused.status == 421
    if not required and not rejected:
        ctx.not_applicable("the proxy does not require Path support at the registrar")
    ctx.should(required, "Require: path on the REGISTER of a UA supporting Path", "none")
    ctx.should(
        rejected,
        "421 to the UA without Supported: path",
        "forwarded" if refused_got is not None else describe(refused),
    )
    if rejected:
        assert refused is not None
        tags = [t.strip().lower() for v in refused.get_all("Require") for t in v.split(",")]
        ctx.should("path" in tags, "Require: path in the 421", ", ".join(tags) or "none")
