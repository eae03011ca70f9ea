"""Subclasses of plugins: a plugin class registers only under the card set in its own body.

``class MyKNN(KNN): name = "my-knn"; variants = {"my-knn": {}}`` is a new plugin beside ``knn``.
A subclass of a named plugin that inherits its ``name`` (or, for methods, its ``variants``) would
claim its parent's names a second time: it is not registered, and the registry lists it as broken
with what to set. Unnamed bases (``name = ""``, like ``_TabularNN``) are no plugins at all.
"""
from __future__ import annotations

from typing import Any, Callable


def _declared_by(cls: type, attr: str) -> type | None:
    """The class in ``cls``'s MRO whose body sets ``attr`` (None when none does)."""
    return next((k for k in cls.__mro__ if attr in vars(k)), None)


def inherited_card(cls: type) -> str | None:
    """Why ``cls`` cannot register under what it inherits, or None when its card is its own."""
    where = cls.__qualname__  # the broken entry names the file or distribution
    owner = _declared_by(cls, "name")
    if owner is not cls and getattr(cls, "name", ""):
        return (f"class {where} inherits `name = {cls.name!r}` from {owner.__qualname__}, so it would "
                f"claim {owner.__qualname__}'s names again; it is not registered. A subclass of a plugin "
                f"is a new plugin: set its own `name` (and, for a method, its own `variants`).")
    variants = getattr(cls, "variants", None)
    owner = _declared_by(cls, "variants")
    if isinstance(variants, dict) and variants and owner is not cls:
        return (f"class {where} (name {cls.name!r}) inherits `variants` {sorted(variants)} from "
                f"{owner.__qualname__}; it is not registered. Set its own, e.g. "
                f"`variants = {{{cls.name!r}: {{}}}}`.")
    return None


def refused(cls: type, origin: object, broken: list, make: Callable[[str, str], Any]) -> bool:
    """True, with ``make(origin, why)`` (the registry's Broken) added to ``broken``, when ``cls``
    inherits its card (see inherited_card)."""
    why = inherited_card(cls)
    if why is not None:
        broken.append(make(str(origin), why))
    return why is not None
