"""Parameters of URIs and header field values (RFC 3261 §19.1.1, §7.3.1).

Both ``uri-parameter`` and ``generic-param`` are ``name[=value]`` pairs
separated by semicolons. Names compare case-insensitively; the text as written
is kept so that unknown parameters survive a round trip untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Parameters:
    """An ordered list of ``name[=value]`` pairs with case-insensitive lookup.

    A value of ``None`` means the parameter has no ``=value`` part (``;lr``);
    an empty string means ``;name=``.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str | None]] = ()):
        self._items: list[tuple[str, str | None]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first parameter called ``name``; ``default`` if absent."""
        key = name.lower()
        for item_name, value in self._items:
            if item_name == key or item_name.lower() == key:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(item_name.lower() == key for item_name, _ in self._items)

    def __getitem__(self, name: str) -> str | None:
        key = name.lower()
        for item_name, value in self._items:
            if item_name.lower() == key:
                return value
        raise KeyError(name)

    def set(self, name: str, value: str | None) -> None:
        """Replace the first parameter called ``name`` (keeping its place) or append it."""
        key = name.lower()
        for index, (item_name, _) in enumerate(self._items):
            if item_name.lower() == key:
                self._items[index] = (item_name, value)
                return
        self._items.append((name, value))

    def remove(self, name: str) -> None:
        """Remove every parameter called ``name``; absent names are ignored."""
        key = name.lower()
        self._items = [item for item in self._items if item[0].lower() != key]

    def names(self) -> list[str]:
        """The parameter names, lower-cased, in order."""
        return [item_name.lower() for item_name, _ in self._items]

    def items(self) -> list[tuple[str, str | None]]:
        """The ``(name, value)`` pairs as written, in order."""
        return list(self._items)

    def copy(self) -> Parameters:
        return Parameters(self._items)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        # Equality of values: names compare case-insensitively, values as written.
        if not isinstance(other, Parameters):
            return NotImplemented
        return [(n.lower(), v) for n, v in self._items] == [
            (n.lower(), v) for n, v in other._items
        ]

    def __hash__(self) -> int:
        return hash(tuple((n.lower(), v) for n, v in self._items))

    def __str__(self) -> str:
        """``;name=value;flag`` — the form used after URIs and header values."""
        return "".join(
            f";{name}" if value is None else f";{name}={value}" for name, value in self._items
        )

    def __repr__(self) -> str:
        return f"Parameters({self._items!r})"
