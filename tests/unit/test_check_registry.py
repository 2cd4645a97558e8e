from __future__ import annotations

import pytest

from harness.checks import REGISTRY, check
from harness.checks.registry import Registry


def test_the_catalogue_has_stable_ids_with_docstrings():
    ids = [c.id for c in REGISTRY.all()]
    assert {"AUTH-01", "CON-01", "INT-01"} <= set(ids)
    assert len(ids) == len(set(ids))
    for registered in REGISTRY.all():
        assert registered.title and not registered.title.startswith(registered.id)


def test_a_duplicate_id_is_an_error():
    registry = Registry()

    @check("X-01", pillar="auth", registry=registry)
    def first(ctx):
        """First."""

    with pytest.raises(ValueError, match="X-01 is registered twice"):

        @check("X-01", pillar="auth", registry=registry)
        def second(ctx):
            """Second."""


def test_a_check_needs_a_docstring_and_known_pillar():
    registry = Registry()
    with pytest.raises(ValueError, match="needs a docstring"):

        @check("X-02", pillar="auth", registry=registry)
        def undocumented(ctx):
            pass

    with pytest.raises(ValueError, match="unknown pillar 'speed'"):
        check("X-03", pillar="speed", registry=registry)


def test_selection_by_id_pillar_and_level():
    registry = Registry()
    for check_id, pillar, level in [
        ("A-01", "auth", "basic"),
        ("A-02", "auth", "strict"),
        ("I-01", "integrity", "standard"),
    ]:
        check(check_id, pillar=pillar, level=level, registry=registry)(_doc)
    assert [c.id for c in registry.select()] == ["A-01", "A-02", "I-01"]
    assert [c.id for c in registry.select(level="basic")] == ["A-01"]
    assert [c.id for c in registry.select(level="standard")] == ["A-01", "I-01"]
    assert [c.id for c in registry.select(["auth"])] == ["A-01", "A-02"]
    assert [c.id for c in registry.select(["I-01", "A-01"])] == ["A-01", "I-01"]


def _doc(ctx):
    """A check."""


def test_pace_sensitive_checks_run_alone():
    registry = Registry()
    check("P-01", pillar="performance", registry=registry)(_doc)
    check("A-01", pillar="auth", registry=registry)(_doc)
    check("A-02", pillar="auth", exclusive=True, registry=registry)(_doc)
    check("P-02", pillar="performance", exclusive=False, registry=registry)(_doc)
    assert {c.id: c.exclusive for c in registry.all()} == {
        "A-01": False,
        "A-02": True,
        "P-01": True,
        "P-02": False,
    }
    assert all(c.exclusive for c in REGISTRY.all() if c.pillar == "performance")
