"""What later RFCs changed in RFC 3261, sentence by sentence: a reviewed data file.

``annotate/later_rfcs.toml`` holds one ``[[update]]`` table per change::

    [[update]]
    rfc = 6026                      # the updating RFC and its section holding the new text
    section = "8.3"
    updates = "3261#section-16.7"   # the section it changes
    kind = "replace"                # or "add": new text added after the sentence ``old``
    old = "..."                     # exact words of the changed (or preceding) sentence
    new = "..."                     # exact words of the updating RFC

`check_updates` verifies that ``old`` is in the changed section and ``new`` in the updating
RFC's section (line breaks may differ, words may not), as ``annotate check`` does for code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from annotate.checker import Diagnostic
from annotate.rfctext import normalize

if TYPE_CHECKING:
    from annotate.checker import DocumentCache

__all__ = ["KINDS", "UPDATES_FILE", "Update", "check_updates", "load_updates"]

#: Where the reviewed data lives, relative to the repository root.
UPDATES_FILE = "annotate/later_rfcs.toml"
KINDS = ("replace", "add")
_TARGET = re.compile(r"^(\d+)#(section|appendix)-([0-9A-Za-z.]+)$")
_FIELDS = {"rfc", "section", "updates", "kind", "old", "new"}


@dataclass(frozen=True)
class Update:
    """One sentence of RFC ``target_rfc`` §``target_section`` that RFC ``rfc`` changed."""

    rfc: int
    section: str
    target_rfc: int
    target_section: str
    kind: str  # "replace" | "add"
    old: str
    new: str
    path: str = UPDATES_FILE
    line: int = 0


def load_updates(path: Path, label: str = UPDATES_FILE) -> tuple[list[Update], list[Diagnostic]]:
    """The entries of an updates file, and a diagnostic per malformed entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [], [Diagnostic(label, 0, f"cannot read: {exc}")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [Diagnostic(label, 0, f"not valid TOML: {exc}")]
    # tomllib gives no line numbers: the n-th ``[[update]]`` header is the n-th entry
    lines = [i + 1 for i, s in enumerate(text.splitlines()) if s.strip() == "[[update]]"]
    updates: list[Update] = []
    problems: list[Diagnostic] = []
    entries = data.get("update", [])
    if not isinstance(entries, list):
        return [], [Diagnostic(label, 0, "'update' must be an array of tables ([[update]])")]
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else 0
        where = (label, line)
        if not isinstance(entry, dict):
            problems.append(Diagnostic(*where, "an update must be a table"))
            continue
        missing = sorted(_FIELDS - entry.keys())
        unknown = sorted(entry.keys() - _FIELDS)
        if missing or unknown:
            what = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(unknown)}" if unknown else "",
                )
                if part
            )
            problems.append(Diagnostic(*where, f"update: {what}"))
            continue
        target = _TARGET.match(str(entry["updates"]))
        if target is None:
            problems.append(
                Diagnostic(*where, f"updates = {entry['updates']!r}: expected '3261#section-X'")
            )
            continue
        if entry["kind"] not in KINDS:
            problems.append(
                Diagnostic(*where, f"kind = {entry['kind']!r}: expected one of {KINDS}")
            )
            continue
        if not isinstance(entry["rfc"], int) or not all(
            isinstance(entry[k], str) for k in ("section", "old", "new")
        ):
            problems.append(Diagnostic(*where, "rfc must be a number; section/old/new strings"))
            continue
        updates.append(
            Update(
                rfc=entry["rfc"],
                section=entry["section"],
                target_rfc=int(target[1]),
                target_section=target[3],
                kind=entry["kind"],
                old=entry["old"],
                new=entry["new"],
                path=label,
                line=line,
            )
        )
    return updates, problems


def _find(docs: DocumentCache, rfc: int, section: str, quote: str, what: str) -> str | None:
    """None when ``quote`` is in RFC ``rfc`` §``section``, else why not."""
    doc = docs.get(rfc)
    if isinstance(doc, str):
        return doc
    found = doc.section(section)
    if found is None:
        return f"{what}: RFC {rfc} §{section} does not exist"
    if not normalize(quote):
        return f"{what} is empty"
    if found.find(quote) is None:
        elsewhere = next((s.number for s in doc.sections if s.find(quote) is not None), None)
        hint = f"; it occurs in §{elsewhere}" if elsewhere else ""
        return f"{what} quote not found in RFC {rfc} §{section}{hint}"
    return None


def check_updates(updates: list[Update], docs: DocumentCache) -> list[Diagnostic]:
    """A diagnostic per quote that is not in its section (old in the changed RFC, new in
    the updating one)."""
    problems: list[Diagnostic] = []
    for u in updates:
        for rfc, section, quote, what in (
            (u.target_rfc, u.target_section, u.old, "old"),
            (u.rfc, u.section, u.new, "new"),
        ):
            message = _find(docs, rfc, section, quote, what)
            if message is not None:
                problems.append(Diagnostic(u.path, u.line, f"RFC {u.rfc} update: {message}"))
    return problems
