"""Text folded for matching: case and accents ignored ("Bogotá" ~ "bogota")."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower-case text without accents, for searching ("Bogotá" ~ "bogota")."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
