"""Names read back from a file that mixfit joins to a folder: a plain name stays in its folder."""

from __future__ import annotations

from mixfit.errors import InputError


def plain_name(text: str) -> None:
    """A file name of one part: no folder separator, not '.' or '..', not absolute, no NUL
    (``../../.bashrc`` or ``/etc/passwd`` in a manifest must not name a file elsewhere)."""
    if (
        not text
        or text in {".", ".."}
        or any(c in text for c in "/\\\0")
        or (len(text) > 1 and text[1] == ":")  # C:name on Windows
    ):
        raise InputError(f"{text[:60]!r} is not a plain file name")
