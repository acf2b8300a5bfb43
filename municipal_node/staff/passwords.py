"""Staff password policy and argon2id hashing (argon2-cffi). Hashing runs in a thread."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from municipal_node.settings import NodeSettings
from municipal_node.staff.errors import StaffError

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,32}")
MIN_PASSWORD = 12
MAX_PASSWORD = 256
MAX_DISPLAY_NAME = 100


def hasher_for(settings: NodeSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.staff_password_time_cost,
        memory_cost=settings.staff_password_memory_kib,
        parallelism=settings.staff_password_parallelism,
        type=Type.ID,
    )


def normalize_username(value: str) -> str:
    return value.strip().lower()


def check_username(value: str) -> str:
    username = normalize_username(value)
    if not USERNAME_RE.fullmatch(username):
        raise StaffError(
            "BAD_USERNAME",
            "ユーザー名は英小文字・数字・「._-」の3〜32文字です / username must be 3–32 of "
            "a-z 0-9 . _ -",
        )
    return username


def check_display_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_DISPLAY_NAME:
        raise StaffError(
            "BAD_DISPLAY_NAME",
            f"表示名は1〜{MAX_DISPLAY_NAME}文字です / display name must be 1–{MAX_DISPLAY_NAME} "
            "characters",
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise StaffError(
            "BAD_DISPLAY_NAME",
            "表示名に制御文字は使えません / display name must not contain control characters",
        )
    return name


def check_password(password: str, *, username: str) -> None:
    """The policy: 12–256 characters, not the username. The password is never echoed."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(
            "WEAK_PASSWORD",
            f"パスワードは{MIN_PASSWORD}文字以上にしてください / password must be at least "
            f"{MIN_PASSWORD} characters",
        )
    if len(password) > MAX_PASSWORD:
        raise StaffError(
            "WEAK_PASSWORD",
            f"パスワードは{MAX_PASSWORD}文字以内にしてください / password must be at most "
            f"{MAX_PASSWORD} characters",
        )
    if password.strip().casefold() == username.casefold():
        raise StaffError(
            "WEAK_PASSWORD",
            "ユーザー名と同じパスワードは使えません / password must differ from the username",
        )


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError) as exc:
            log.error("stored staff password hash is unusable: %s", type(exc).__name__)
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(hasher: PasswordHasher, password_hash: str) -> bool:
    try:
        return hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
