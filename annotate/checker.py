"""Annotation checker: every annotation must cite words that exist in the RFC section it names.

`check` scans the tree (`annotate.annotations.scan_tree`), then, for each annotation, loads
the RFC from the spec store and verifies:

- the target names a section or appendix the RFC has;
- ``normalize(quote)`` occurs in ``section.normalized`` (line breaks and runs of spaces are
  ignored; words, punctuation and case are not); on failure the nearest sentence of the
  section is suggested, and the section that does hold the quote, if any; a quote of the
  corrected text of a verified erratum of that section is accepted (`erratum_notes`);
- no block carries the same quote with the same type twice.

Together with the scanner's grammar errors (malformed target, unknown key or type, exception
without a reason, code annotation without a quote, ``##%`` without a target) every problem
becomes a `Diagnostic` printed as ``path:line: message``.

`resolve` is shared with the report: it maps each valid annotation to its section and the
span of its quote in ``section.normalized``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from annotate.annotations import ROOTS, TYPES, Annotation, ScanError, scan_tree

if TYPE_CHECKING:
    from annotate.rfctext import RfcDocument, Section
    from annotate.specstore import SpecStore

__all__ = [
    "Diagnostic",
    "DocumentCache",
    "Resolved",
    "check",
    "diagnose",
    "erratum_notes",
    "resolve",
]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem: ``path:line: message``."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    @classmethod
    def from_scan_error(cls, error: ScanError) -> Diagnostic:
        return cls(error.path, error.line, error.message)


@dataclass
class Resolved:
    """An annotation tied to its RFC section; ``span`` indexes ``section.normalized``."""

    annotation: Annotation
    document: RfcDocument
    section: Section
    span: tuple[int, int]
    whole_section: bool = False
    # The Errata ID when the quote is the corrected text of a verified erratum; ``span``
    # is then that of the words the erratum corrects.
    erratum: int | None = None


class DocumentCache:
    """RFC documents from a spec store, loaded once each; failures remembered as messages."""

    def __init__(self, store: SpecStore) -> None:
        self.store = store
        self._docs: dict[int, RfcDocument | str] = {}

    def get(self, rfc: int) -> RfcDocument | str:
        """The parsed RFC, or a message saying why it could not be loaded."""
        if rfc not in self._docs:
            self._docs[rfc] = self._load(rfc)
        return self._docs[rfc]

    def _load(self, rfc: int) -> RfcDocument | str:
        from annotate.specstore import SpecStoreError

        try:
            doc = self.store.document(rfc)
        except SpecStoreError as exc:
            return f"RFC {rfc} cannot be loaded: {exc}"
        except (ValueError, LookupError, OSError, UnicodeError) as exc:
            return f"RFC {rfc} cannot be parsed: {type(exc).__name__}: {exc}"
        if not doc.sections:
            return f"RFC {rfc} has no sections: is the spec text garbled?"
        return doc


def _section_label(rfc: int, section: str) -> str:
    return f"RFC {rfc} §{section}" if section[0].isdigit() else f"RFC {rfc} appendix {section}"


def resolve(
    annotations: Iterable[Annotation], docs: DocumentCache
) -> tuple[list[Resolved], list[Diagnostic]]:
    """Tie annotations to their sections; diagnostics for those that cannot be tied.

    Annotations with a malformed target or an unknown type are skipped silently (the scanner
    has reported them). A TOML annotation without a quote covers its whole section.
    """
    from annotate.requirements import nearest_sentence
    from annotate.rfctext import normalize

    resolved: list[Resolved] = []
    diagnostics: list[Diagnostic] = []
    for annotation in annotations:
        if annotation.rfc is None or annotation.section is None or annotation.type not in TYPES:
            continue
        where = (annotation.path, annotation.line)
        doc = docs.get(annotation.rfc)
        if isinstance(doc, str):
            diagnostics.append(Diagnostic(*where, doc))
            continue
        section = doc.section(annotation.section)
        if section is None:
            diagnostics.append(
                Diagnostic(
                    *where,
                    f"{_section_label(annotation.rfc, annotation.section)} does not exist "
                    f"(target {annotation.target})",
                )
            )
            continue
        quote = normalize(annotation.quote)
        if not quote:
            if annotation.origin == "toml":
                resolved.append(
                    Resolved(annotation, doc, section, (0, len(section.normalized)), True)
                )
            continue  # a code annotation without a quote was reported by the scanner
        start = section.normalized.find(quote)
        if start < 0:
            corrected = _corrected(docs, doc, section, annotation.quote)
            if corrected is not None:
                erratum, span = corrected
                resolved.append(Resolved(annotation, doc, section, span, erratum=erratum))
                continue
            label = _section_label(annotation.rfc, annotation.section)
            message = f"quote not found in {label}"
            elsewhere = [s for s in doc.sections if s is not section and quote in s.normalized]
            if elsewhere:
                message += f"; it occurs in {_section_label(annotation.rfc, elsewhere[0].number)}"
            else:
                nearest = nearest_sentence(section, annotation.quote)
                if nearest:
                    message += f"; nearest sentence: {nearest!r}"
            diagnostics.append(Diagnostic(*where, message))
            continue
        resolved.append(Resolved(annotation, doc, section, (start, start + len(quote))))
    return resolved, diagnostics


def _corrected(
    docs: DocumentCache, doc: RfcDocument, section: Section, quote: str
) -> tuple[int, tuple[int, int]] | None:
    """(Errata ID, span of the corrected words) when ``quote`` is the corrected text of a
    verified erratum of ``section``."""
    from annotate.errata import corrected_match

    errata = getattr(docs.store, "errata", None)
    if errata is None:
        return None
    found = corrected_match(errata.records(doc.number), doc, section, quote)
    return None if found is None else (found[0].eid, found[1])


def erratum_notes(resolved: Iterable[Resolved]) -> list[Diagnostic]:
    """A note per annotation that quotes an erratum's corrected text (accepted)."""
    return sorted(
        Diagnostic(
            r.annotation.path,
            r.annotation.line,
            f"note: quotes the text of RFC {r.document.number} §{r.section.number} as "
            f"corrected by verified erratum {r.erratum} "
            f"(https://www.rfc-editor.org/errata/eid{r.erratum})",
        )
        for r in resolved
        if r.erratum is not None
    )


def _duplicates(resolved: Iterable[Resolved]) -> list[Diagnostic]:
    from annotate.rfctext import normalize

    seen: dict[tuple[object, ...], Annotation] = {}
    found: list[Diagnostic] = []
    for item in resolved:
        a = item.annotation
        key = (a.path, a.block, a.type, a.rfc, a.section, normalize(a.quote))
        first = seen.setdefault(key, a)
        if first is not a:
            found.append(
                Diagnostic(
                    a.path,
                    a.line,
                    f"duplicate annotation: the same quote with type={a.type} on the same "
                    f"block is already at line {first.line}",
                )
            )
    return found


def diagnose(
    annotations: Iterable[Annotation], errors: Iterable[ScanError], docs: DocumentCache
) -> tuple[list[Resolved], list[Diagnostic]]:
    """Resolve scanned annotations; all diagnostics (grammar, spec, duplicates), sorted."""
    resolved, diagnostics = resolve(annotations, docs)
    diagnostics.extend(Diagnostic.from_scan_error(e) for e in errors)
    diagnostics.extend(_duplicates(resolved))
    return resolved, sorted(set(diagnostics))


def check(
    root: Path,
    store: SpecStore,
    roots: Iterable[str] = ROOTS,
) -> list[Diagnostic]:
    """All diagnostics for the annotations under ``root``, sorted by file and line."""
    annotations, errors = scan_tree(Path(root), roots)
    return diagnose(annotations, errors, DocumentCache(store))[1]
