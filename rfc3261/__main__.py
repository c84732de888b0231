"""The runnable programs: ``python -m rfc3261 PROGRAM [options]``.

=============  ==============================================================
``ua``         a command-line user agent: register, call, answer, OPTIONS, BYE
``registrar``  a registrar (RFC 3261 §10.3) with its SQLite location service
``proxy``      a stateful proxy (§16) that embeds the registrar by default
``redirect``   a redirect server (§8.3) answering 3xx from the registrar's bindings
``uas``        a minimal UAS for load tests (answers every INVITE with 200)
=============  ==============================================================

Every program takes ``--listen URI`` (repeatable), e.g. ``sip:127.0.0.1:5070``,
``sip:127.0.0.1:5070;transport=tcp`` or ``sips:[::1]:5071``, and logs each
message on the wire.  ``python -m rfc3261 PROGRAM --help`` lists the rest.
"""

from __future__ import annotations

import importlib
import sys

PROGRAMS: dict[str, str] = {
    "ua": "rfc3261.programs.ua",
    "registrar": "rfc3261.programs.registrar",
    "proxy": "rfc3261.programs.proxy",
    "redirect": "rfc3261.programs.redirect",
    "uas": "rfc3261.asyncio.uas_minimal",
}


def main(argv: list[str] | None = None) -> int:
    """Run the program named by the first argument with the rest of the arguments."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in PROGRAMS:
        print(
            __doc__.strip(),
            file=sys.stderr if args and args[0] not in ("-h", "--help") else sys.stdout,
        )
        if args and args[0] not in ("-h", "--help"):
            print(
                f"\nunknown program {args[0]!r}; choose one of: {', '.join(PROGRAMS)}",
                file=sys.stderr,
            )
            return 2
        return 0 if args else 2
    module = importlib.import_module(PROGRAMS[args[0]])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
