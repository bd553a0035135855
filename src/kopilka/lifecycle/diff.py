"""What differs between two versions of a program, as a unified diff of their texts."""

from __future__ import annotations

import difflib


def unified(old: str, new: str, old_name: str, new_name: str) -> str:
    """The unified diff of two program texts ('' when they are the same)."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
