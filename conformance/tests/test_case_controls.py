"""Every case either runs a control or says why it needs none; preambles are declared.

A case runs a control when its code (or a helper it calls, followed through the modules of
the conformance suite) calls ``ctx.control``/``ctx.controlled`` or a helper named
``control...``; otherwise its registration carries ``no_control="why"``: the one line that
says its verdict cannot be confounded by the target turning the request down for another
reason.  The self-tests at the end run a proxy and a registrar whose controls fail.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType

import pytest

from conformance.model import REGISTRY, Case, Profile
from conformance.report import to_json
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import run_cases, verdicts

FAST = Profile(t1=0.2)
#: the case modules: helpers and classes there are followed when looking for a control
OWN = ("conformance.cases", "extensions.conformance", "_conformance_cases_")


def _names(func: FunctionType) -> tuple[set[str], set[str]]:
    """The attribute names and the plain names ``func``'s body uses."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return attrs, names


def _runs_control(func: Callable[..., object], seen: set[object] | None = None) -> bool:
    """True when ``func`` or a suite helper it calls runs a control exchange."""
    seen = set() if seen is None else seen
    if not isinstance(func, FunctionType) or func in seen:
        return False
    seen.add(func)
    try:
        attrs, names = _names(func)
    except (OSError, TypeError):  # generated code (a dataclass's __init__): no source
        return False
    if {"control", "controlled"} & attrs or any(n.startswith("control") for n in attrs):
        return True
    scope = dict(func.__globals__)
    scope.update(inspect.getclosurevars(func).nonlocals)
    for name in names:
        obj = scope.get(name)
        if inspect.isclass(obj) and obj.__module__.startswith(OWN):
            # the methods the function calls by name (``reg.bound(...)``)
            methods = [vars(obj)[a] for a in attrs if isinstance(vars(obj).get(a), FunctionType)]
            if any(_runs_control(m, seen) for m in methods):
                return True
        elif (
            isinstance(obj, FunctionType)
            and obj.__module__.startswith(OWN)
            and (name.startswith("control") or _runs_control(obj, seen))
        ):
            return True
    return False


def _all_cases() -> list[Case]:
    """Every case: the core's and the extensions' (discovery ran in `support`)."""
    return list(REGISTRY.values())


def test_every_case_has_a_control_or_says_why_not() -> None:
    cases = _all_cases()
    assert len(cases) > 100
    missing = [c.id for c in cases if not c.no_control and not _runs_control(c.run)]
    assert missing == []


def test_the_detector_tells_a_control_from_none() -> None:
    """The check above could fail: a case without a control and without a reason is found."""

    def bare(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.transaction(ctx.link(), ctx.request("OPTIONS", ctx.link()))

    def controlled(ctx) -> None:  # type: ignore[no-untyped-def]
        link = ctx.link()
        ctx.control(link, ctx.request("OPTIONS", link))

    assert not _runs_control(bare)
    assert _runs_control(controlled)
    # through a helper of a case module, and through a class's method (a registrar's)
    assert _runs_control(REGISTRY["uas-420-options"].run)
    assert _runs_control(REGISTRY["reg-420-require"].run)
    assert _runs_control(REGISTRY["proxy-483-max-forwards-zero"].run)


def test_reasons_are_one_line_and_controls_not_doubled() -> None:
    for entry in _all_cases():
        assert "\n" not in entry.no_control and len(entry.no_control) < 100, entry.id
        if entry.tags != ("torture",):
            # a case with a control says nothing about needing none (torture cases compute it)
            assert not (entry.no_control and _runs_control(entry.run)), entry.id


def test_stateful_cases_declare_their_preamble() -> None:
    """The cases that need a dialog, a binding, a ringing INVITE or a call say so."""
    wanted = {
        "uas-500-cseq-lower": "dialog",
        "uas-cseq-gap-accepted": "dialog",
        "uas-options-in-dialog": "dialog",
        "uas-bye-200": "dialog",
        "reg-query": "binding",
        "reg-remove-all": "binding",
        "reg-cseq-out-of-order": "binding",
        "txn-cancel-200": "ringing",
        "txn-cancel-after-final": "call",
        "uac-ack-2xx": "INVITE",
    }
    for case_id, word in wanted.items():
        assert word in REGISTRY[case_id].preamble, case_id


# --- self-test: a proxy and a registrar whose controls fail ----------------------------------


@pytest.fixture
def element() -> Iterator[Callable[..., str]]:
    started: list[FaultyElement] = []

    def factory(role: str, *faults: str) -> str:
        made = FaultyElement(role, faults, t1=FAST.t1)
        started.append(made)
        return f"udp:127.0.0.1:{made.start()}"

    yield factory
    for made in started:
        made.stop()


PROXY_CASES = (
    "proxy-483-max-forwards-zero,proxy-420-proxy-require,proxy-416-scheme,"
    "proxy-unknown-method-forwarded,torture-4475-zeromf"
)
REGISTRAR_CASES = (
    "reg-register-200-binding,reg-star-nonzero-400,reg-star-with-others-400,reg-420-require,"
    "reg-423-min-expires,reg-query,reg-cseq-out-of-order"
)


def test_proxy_passes_its_controls(element) -> None:
    run = run_cases(element("proxy"), "proxy", PROXY_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, verdicts(run)
    assert all(r.control_ok for r in run.results)


def test_proxy_refusing_the_user_is_inconclusive_not_failed(element) -> None:
    """A proxy that refuses to relay to an unknown user (404) answers the defect's request
    with 404 too: before the controls, 483, 420 and 416 failed for it."""
    run = run_cases(element("proxy", "unknown_user"), "proxy", PROXY_CASES, FAST)
    assert set(verdicts(run).values()) == {"inconclusive"}, verdicts(run)
    for res in run.results:
        assert res.control_ok is False and "404" in res.control and "404" in res.reason


def test_proxy_refusing_what_it_should_relay_still_fails(element) -> None:
    """The control forwarded, the unknown method not: the proxy is at fault (§16.3)."""
    run = run_cases(element("proxy", "drop_unknown_method"), "proxy", PROXY_CASES, FAST)
    got = verdicts(run)
    assert got.pop("proxy-unknown-method-forwarded") == "fail"
    assert set(got.values()) == {"pass"}, got


def test_registrar_passes_its_controls(element) -> None:
    run = run_cases(element("registrar"), "registrar", REGISTRAR_CASES, FAST)
    assert set(verdicts(run).values()) == {"pass"}, verdicts(run)
    assert all(r.control_ok for r in run.results)
    query = next(r for r in run.results if r.case.id == "reg-query")
    assert query.preamble.startswith("ok: ") and "bound" in query.preamble
    cases = {c["id"]: c for c in to_json(run, base64=False)["cases"]}
    assert cases["reg-query"]["preamble"] == query.preamble
    assert cases["reg-query"]["control"]["ok"] is True
    assert cases["reg-register-200-binding"]["no_control"] == ""


def test_registrar_refusing_the_user_is_inconclusive_not_failed(element) -> None:
    """A registrar that knows no such user (404) answers every REGISTER for it 404: the
    cases expecting 400, 420 or 423 failed for it before; now their control names it."""
    run = run_cases(element("registrar", "unknown_user"), "registrar", REGISTRAR_CASES, FAST)
    assert set(verdicts(run).values()) == {"inconclusive"}, verdicts(run)
    for res in run.results:
        assert res.control_ok is False and "404" in res.reason
    query = next(r for r in run.results if r.case.id == "reg-query")
    assert query.preamble.startswith("FAILED: ")


def test_registrar_real_faults_still_fail(element) -> None:
    """Behind a working control, the registrar's own faults fail exactly."""
    run = run_cases(
        element("registrar", "ignore_require", "star_expires"), "registrar", REGISTRAR_CASES, FAST
    )
    got = verdicts(run)
    assert got.pop("reg-420-require") == "fail"
    assert got.pop("reg-star-nonzero-400") == "fail"
    assert set(got.values()) == {"pass"}, got
