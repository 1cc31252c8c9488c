"""The studio's guard: ASGI middleware in front of every route (host, token, origin), and the
security headers of every answer. See docs/web.md for the security model."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .config import is_loopback

COOKIE = "stylegram_token"
PRIVATE = ("/api/", "/atlas/")  # what a token guards: the jobs, the pictures, the atlases
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; "
        b"connect-src 'self'; frame-ancestors 'none'",
    ),
]


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Guard:
    """ASGI middleware: the host name, the token and the origin of every request.

    - without a token, only loopback host names are served (a DNS-rebinding page cannot read the API);
    - with a token, every /api call and atlas file must carry it: `Authorization: Bearer T`, `X-Stylegram-Token: T`
      or the cookie that `/?token=T` sets;
    - a POST or DELETE from another origin is refused (a web page cannot submit forms to the API).
    """

    def __init__(self, app, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is not None:
            return await refusal(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)

    def refuse(self, request: Request) -> Response | None:
        host = request.url.hostname or ""
        if self.token is None and not is_loopback(host):
            return error(
                403, f"host '{host}' refused: this server answers only to a loopback address"
            )
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
                return error(403, f"origin '{origin}' refused")
        if (
            self.token is not None
            and request.url.path.startswith(PRIVATE)
            and not self.authorised(request)
        ):
            return error(
                401, "a token is required: send 'Authorization: Bearer TOKEN' or open /?token=TOKEN"
            )
        return None

    def authorised(self, request: Request) -> bool:
        if self.token is None:  # nothing to match; refuse() does not ask then
            return False
        auth = request.headers.get("authorization", "")
        given = [
            auth[7:] if auth.lower().startswith("bearer ") else "",
            request.headers.get("x-stylegram-token", ""),
            request.cookies.get(COOKIE, ""),
        ]
        return any(g and hmac.compare_digest(g.encode(), self.token.encode()) for g in given)
