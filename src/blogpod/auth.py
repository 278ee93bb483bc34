"""Bearer-token guard for write endpoints, shared by the agent and the skill server."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from blogpod.problems import Problem


def bearer_guard(token: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency that requires ``Authorization: Bearer <token>`` when token is set."""

    def guard(request: Request) -> None:
        if not token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise Problem(
                401,
                "Unauthorized",
                "this endpoint needs 'Authorization: Bearer <BLOGPOD_API_TOKEN>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return guard
