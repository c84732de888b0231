"""The core's cases, one module per group; importing this package registers them all.

There is no list to keep: every module here is a case module, loaded in the order of its
``ORDER`` constant, then its name (`conformance.discovery`).  The extensions' cases live in
``extensions/conformance/`` and are loaded by `conformance.discovery.load_cases`.
"""

from conformance.discovery import CORE_CASES, load_cases

load_cases(CORE_CASES, extensions=None)
