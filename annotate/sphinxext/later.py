"""What later RFCs changed: for each section of RFC 3261, the sections of the RFCs that
update it and name it.

Found in the RFC texts at hand (the spec folder and the cache): an RFC updates RFC 3261 when
its header says ``Updates: 3261``; it changes a section when its text names it ("Section
17.1.1.2 of RFC 3261", "[RFC3261], Section 16.6").  This is the navigation; the sentences an
update replaces, side by side, need a reviewed data file (see the report of issue 16).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.specstore import SpecStoreError

_UPDATES = re.compile(r"^Updates:\s*([0-9][0-9, ]*(?:\n {2,}[0-9][0-9, ]*)*)", re.M)
_REFERENCES = (
    re.compile(r"\b[Ss]ections? (\d+(?:\.\d+)*) (?:of|in) (?:RFC ?3261|\[RFC3261\])"),
    re.compile(r"(?:RFC ?3261|\[RFC3261\]),? [Ss]ections? (\d+(?:\.\d+)*)"),
)


_TITLED = re.compile(r"\bSection (\d+(?:\.\d+)*)")


@dataclass
class Later:
    """The RFCs that update one RFC, and per section of it the places that name it."""

    updaters: dict[int, str] = field(default_factory=dict)  # rfc -> title
    by_section: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def at(self, number: str) -> list[tuple[int, str]]:
        return self.by_section.get(number, [])


def updates(header: str) -> set[int]:
    """The RFC numbers an RFC's header says it updates."""
    m = _UPDATES.search(header)
    return {int(n) for n in re.findall(r"\d+", m[1])} if m else set()


def later_rfcs(store: Any, rfc: int = 3261) -> Later:
    """Scan the local RFC texts for the ones that update ``rfc`` (never fetches)."""
    found = Later()
    folders = [f for f in (store.spec_dir, store.cache_dir) if f is not None]
    numbers = sorted(
        {
            int(m[1])
            for folder in folders
            for path in Path(folder).glob("rfc*.txt")
            if (m := re.fullmatch(r"rfc(\d+)\.txt", path.name))
        }
    )
    for number in numbers:
        if number == rfc:
            continue
        path = store.path(number)
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:3000] if path else ""
        except OSError:
            continue
        if rfc not in updates(head):
            continue
        try:
            doc = store.document(number)
        except SpecStoreError:  # an unreadable RFC only loses its links
            continue
        found.updaters[number] = doc.title
        for section in doc.sections:
            names = {
                m[1].rstrip(".")
                for pattern in _REFERENCES
                for m in pattern.finditer(section.normalized)
            }
            # in an RFC that updates this one, a section titled after a section names it
            names |= {m[1].rstrip(".") for m in _TITLED.finditer(section.title)}
            # "8.4. Page 126 / Section 17.1.1.2. Replace paragraph 7 ...": a change that
            # opens with the section it changes
            if m := _TITLED.match(section.normalized):
                names.add(m[1].rstrip("."))
            for name in sorted(names):
                places = found.by_section.setdefault(name, [])
                if (number, section.number) not in places:
                    places.append((number, section.number))
    return found
