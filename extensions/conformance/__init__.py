"""The extensions' conformance cases: ``NAME.py`` holds the cases of ``extensions/NAME``.

This folder mirrors ``conformance/cases/``: each module registers its cases with
`conformance.model.case` and is found by `conformance.discovery` (no list to edit);
``python -m conformance list --extension NAME`` shows them.
"""
