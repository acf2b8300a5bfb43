from __future__ import annotations


class StaffError(Exception):
    """An expected refusal: ``code`` is machine-readable, ``message`` Japanese then English,
    ``status`` the HTTP status the API answers with."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def unknown_staff() -> StaffError:
    return StaffError(
        "UNKNOWN_STAFF", "この自治体にその職員はいません / no such staff on this tenant", 404
    )


def unknown_tenant(code: str) -> StaffError:
    return StaffError("UNKNOWN_TENANT", f"自治体が見つかりません / unknown tenant: {code}", 404)
