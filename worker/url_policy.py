"""Which URLs an I/O task may fetch: only http(s) to allow-listed hosts, so the queue is no open proxy."""

from __future__ import annotations

from urllib.parse import urlsplit


class UrlNotAllowed(ValueError):
    """The URL is malformed or its host is not on the allow-list."""


def check_url(url: str, allowed_hosts: frozenset[str]) -> str:
    """Return ``url`` if it is http(s) to an allowed host; raise :class:`UrlNotAllowed` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError as error:
        raise UrlNotAllowed(f"malformed URL {url!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlNotAllowed(f"malformed URL {url!r}: need http(s)://host[:port]/path")
    if parts.username or parts.password:
        raise UrlNotAllowed(f"URL {url!r} must not carry credentials")
    host = parts.hostname.lower()
    if host not in allowed_hosts:
        allowed = ", ".join(sorted(allowed_hosts)) or "none"
        raise UrlNotAllowed(f"host {host!r} is not allow-listed (allowed: {allowed}; set LAB_ALLOWED_HOSTS)")
    del port
    return url
