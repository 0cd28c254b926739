"""The member directory's order: by name, as people read names."""

from __future__ import annotations


def name_key(display_name: str) -> str:
    """The sort and search form of a name: case and surrounding space do not matter."""
    return " ".join(display_name.casefold().split())
