"""Request and response bodies of the staff API. Passwords are ``SecretStr``: never echoed,
never in a repr. Usernames, roles and passwords are checked by the service, which answers
with bilingual messages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.config import JsonDict

from municipal_node.api.auth import ALL_ROLES

_ROLE_FIELD: JsonDict = {"enum": [str(role) for role in ALL_ROLES]}
_USERNAME_DOC = "英小文字・数字・「._-」の3〜32文字 / 3–32 of a-z 0-9 . _ -"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=200, description=_USERNAME_DOC)
    password: SecretStr


class LoginOut(BaseModel):
    token: str = Field(description="Bearer token for `Authorization: Bearer …`")
    expires_at: datetime
    roles: dict[str, str] = Field(description="自治体コード → 権限 / tenant code → role")


class MeOut(BaseModel):
    actor: str
    operator: bool = Field(description="運用者トークン / the node operator's token")
    username: str | None
    display_name: str | None
    roles: dict[str, str] = Field(description="自治体コード → 権限 / tenant code → role")
    session_expires_at: datetime | None


class OwnPasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: SecretStr
    new_password: SecretStr = Field(
        description="12文字以上、ユーザー名と異なる / ≥ 12 characters, not the username"
    )


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=200, description=_USERNAME_DOC)
    display_name: str = Field(max_length=400, description="表示名（日本語可） / display name")
    password: SecretStr = Field(
        description="12文字以上、ユーザー名と異なる / ≥ 12 characters, not the username"
    )
    role: str = Field(max_length=32, json_schema_extra=_ROLE_FIELD)


class StaffPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(default=None, max_length=32, json_schema_extra=_ROLE_FIELD)
    active: bool | None = None


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(
        description="12文字以上、ユーザー名と異なる / ≥ 12 characters, not the username"
    )


class StaffOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime
