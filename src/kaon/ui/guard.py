"""What every UI response carries and every UI write must pass: security headers (a
Content-Security-Policy allowing only this server's scripts, so page scripts live in
static/*.js) and a same-origin check on POST forms (with the SameSite=Strict cookie, the
defence against cross-site request forgery)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

# scripts: only files served from here (no inline script, no eval); styles: ours, plus style
# attributes (ECharts and Graphviz's SVG set them); images: ours and data: URLs (previews).
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def foreign_origin(request: Request) -> str | None:
    """The other site a write comes from (its Origin, else its Referer), or None when it is
    this server's own page (or a non-browser client that sends neither)."""
    if request.method not in WRITES:
        return None
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return None
    host = request.headers.get("host", "")
    parts = urlsplit(sent)
    if sent == "null" or parts.netloc != host:
        return sent
    return None


def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
