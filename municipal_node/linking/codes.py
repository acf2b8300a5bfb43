"""Registration codes: 12 characters of an unambiguous alphabet, printed XXXX-XXXX-XXXX.

The alphabet leaves out 0/O, 1/I/L and lower case, so a code read off paper is typed right.
31 symbols ** 12 ≈ 7.9 × 10^17 codes; with 5 wrong tries per user per hour nobody guesses one.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 12
GROUP = 4
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－_]+")
_CODE_SHAPED = re.compile(r"[A-Z0-9]{12}")


def new_code(choice: Callable[[str], str] = secrets.choice) -> str:
    """A fresh code (normalised form, no hyphens)."""
    return "".join(choice(ALPHABET) for _ in range(LENGTH))


def formatted(code: str) -> str:
    """``ABCD2345EFGH`` → ``ABCD-2345-EFGH``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(text: str) -> str | None:
    """What a resident typed → the 12-character code it looks like, or None when the text is
    not code-shaped. Full-width characters are folded with NFKC; hyphens (any dash, the long
    vowel mark ー typed by a Japanese IME) and spaces are ignored; case is ignored."""
    folded = unicodedata.normalize("NFKC", text).strip().upper()
    compact = _SEPARATORS.sub("", folded)
    if not _CODE_SHAPED.fullmatch(compact):
        return None
    return compact


def is_well_formed(code: str) -> bool:
    """Whether a normalised, code-shaped string only uses the code alphabet."""
    return len(code) == LENGTH and all(ch in ALPHABET for ch in code)
