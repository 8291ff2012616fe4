"""Text from the world made safe to show, for every check family: one line, no control characters, cut short."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from secbase.parse import clip, one_line

SHORT_CHARS = 200  # a piece of evidence quoted in a sentence


def clean(text: str, limit: int = SHORT_CHARS) -> str:
    """Text a server, a tool or a person wrote, made safe to show: control, invisible and direction-changing
    characters replaced by spaces, cut to `limit` characters ("..." at the end when cut)."""
    return one_line(text, limit)


def join_lines(lines: Iterable[str], limit: int = SHORT_CHARS) -> str:
    """Evidence of several lines: each cleaned, joined by newlines, the whole cut to `limit` characters."""
    text = "\n".join(clean(line, limit) for line in islice(lines, limit))
    return clip(text, limit)
