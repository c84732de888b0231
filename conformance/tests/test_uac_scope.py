"""The UAC requirements in scope are each judged by a case or listed with a reason."""

from __future__ import annotations

from conformance.uac_scope import uac_scope


def test_every_requirement_is_judged_or_explained() -> None:
    scope = uac_scope()
    listed = set(scope.not_observable) | set(scope.uncovered)
    assert set(scope.not_observable) & set(scope.uncovered) == set()
    assert listed - set(scope.levels) == set(), "ids in uac_scope.toml that are not in scope"
    assert scope.covered & listed == set(), "covered by a case: remove from uac_scope.toml"
    assert set(scope.levels) - scope.covered - listed == set(), "neither covered nor listed"
    assert all(reason.strip() for reason in [*scope.not_observable.values()])


def test_coverage_of_the_observable_requirements() -> None:
    counts = uac_scope().counts()
    must, should = counts["MUST"], counts["SHOULD"]
    # of what a runner listening over UDP can judge (TCP, TLS, DNS, multicast need more)
    assert must["covered"] >= 0.95 * (must["observable"] - must.get("transport", 0))
    assert should["covered"] >= 0.80 * (should["observable"] - should.get("transport", 0))
