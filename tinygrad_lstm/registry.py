"""The one shape of a registry: cells, tasks (and, in ``backends/``, array backends) by name.

Each registry maps a name to an entry and a one-line description, and answers the same calls:
``register(name, entry, description)``, ``get(name)``, ``names()``, ``available()`` (name ->
description) and ``unregister(name)``; an unknown name raises the registry's error (a
ValueError) that lists the names there are. ``backends`` cannot import this package (it sits
below it), so ``backends.register/get/names`` keep the same calls and the same error by hand
(its ``available()`` lists the backends that can run here, a question only backends have).

>>> shapes = Registry("shape")
>>> shapes.register("square", 4, "four sides")
>>> shapes.get("square"), shapes.names(), shapes.available()
(4, ['square'], {'square': 'four sides'})
>>> shapes.get("circle")
Traceback (most recent call last):
...
ValueError: unknown shape 'circle'; available: square
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries of one ``kind`` by name, in the order they were registered.

    ``error`` is the ValueError subclass raised for an unknown name; ``hint`` ends its message
    (e.g. how to name something that is not registered).
    """

    def __init__(self, kind: str, error: type[ValueError] = ValueError, hint: str = "") -> None:
        self.kind = kind
        self.error = error
        self.hint = hint
        self._entries: dict[str, tuple[T, str]] = {}

    def register(self, name: str, entry: T, description: str = "") -> None:
        """Add (or replace) ``entry`` under ``name``; ValueError for a name that is not a
        non-empty str without whitespace (names are command-line words)."""
        if not isinstance(name, str) or not name or name != name.strip() or " " in name:
            raise ValueError(f"register: a {self.kind} name must be a non-empty str without "
                             f"spaces, got {name!r}")
        self._entries[name] = (entry, str(description))

    def unregister(self, name: str) -> None:
        """Remove ``name`` (the unknown-name error if it is not there)."""
        self.get(name)
        del self._entries[name]

    def get(self, name: str) -> T:
        """The entry registered as ``name``; the registry's error, listing the names, if none."""
        found = self._entries.get(name) if isinstance(name, str) else None
        if found is None:
            raise self.error(f"unknown {self.kind} {name!r}; available: "
                             f"{', '.join(self._entries)}{self.hint}")
        return found[0]

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def available(self) -> dict[str, str]:
        """Every registered name with its one-line description."""
        return {name: description for name, (_, description) in self._entries.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries
