"""Errors raised by the message layer (RFC 3261 §7, §18.3, §25)."""

from __future__ import annotations


class ParseError(ValueError):
    """A message, header or URI does not follow the RFC 3261 grammar.

    The message names the defect and, where one applies, the section that
    defines the rule, e.g. ``Via: missing branch parameter (RFC 3261 §8.1.1.7)``.
    ``header`` is the header field name the defect was found in, if any.
    """

    def __init__(self, defect: str, section: str | None = None, header: str | None = None):
        self.defect = defect
        self.section = section
        self.header = header
        text = f"{header}: {defect}" if header else defect
        if section:
            text = (
                f"{text} (RFC 3261 §{section})" if section[0].isdigit() else f"{text} ({section})"
            )
        super().__init__(text)


class FramingError(ParseError):
    """A byte stream cannot be split into messages (RFC 3261 §18.3)."""
