"""Checking a post's link: https only, on the site's allowed domains (and their
subdomains), and not a way out to somewhere else.

Refused: ``javascript:``/``data:`` and every other scheme but https; user names or
passwords in the address; IP addresses (including the decimal and hex spellings
browsers accept); ports other than 443; backslashes, spaces and control characters
(which browsers "fix" in ways that change the host); and open-redirect shapes — a
query or fragment value, or a path segment, that is itself an absolute or
protocol-relative address (``?next=//evil.example``, ``/redirect/https://evil…``)
pointing off the allow-list.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

MAX_LINK = 2000
_SCRIPT_SCHEMES = ("javascript", "data", "vbscript", "file", "blob")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
# An embedded address: scheme://… or //… (or the backslash spellings browsers accept).
_EMBEDDED = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?[/\\]{2}", re.IGNORECASE)
_EMBEDDED_IN_PATH = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//([^/?#\s]+)", re.IGNORECASE)
_SCHEME_ONLY = re.compile(r"^\s*([a-z][a-z0-9+.-]*):", re.IGNORECASE)
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+))*$", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)


class LinkRefused(ValueError):
    """A link that may not be published. ``code`` names the rule (a text key of the
    catalogue, ``error.link.<code>``); ``params`` fill its placeholders."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(f"link refused: {code} {params}")
        self.code = code
        self.params = params


def allowed_host(host: str, domains: Iterable[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def _host(value: str) -> str:
    try:
        return value.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise LinkRefused("malformed") from None


def _decoded(value: str, rounds: int = 3) -> list[str]:
    """``value`` and its percent-decodings (attackers double-encode)."""
    seen = [value]
    for _ in range(rounds):
        decoded = unquote(seen[-1])
        if decoded == seen[-1]:
            break
        seen.append(decoded)
    return seen


def _check_embedded(value: str, domains: Sequence[str]) -> None:
    """Refuse a parameter value that is an address on another site."""
    for candidate in _decoded(value):
        scheme = _SCHEME_ONLY.match(candidate)
        if scheme and scheme.group(1).lower() in _SCRIPT_SCHEMES:
            raise LinkRefused("script")
        if _EMBEDDED.match(candidate):
            normalised = candidate.strip().replace("\\", "/")
            if normalised.startswith("//"):
                normalised = "https:" + normalised
            try:
                host = urlsplit(normalised).hostname or ""
            except ValueError:
                raise LinkRefused("redirect", target=candidate[:80]) from None
            if not host or not allowed_host(host, domains):
                raise LinkRefused("redirect", target=host or candidate[:80])


def check_link(raw: str | None, domains: Sequence[str]) -> str:
    """Return ``raw`` normalised (host in lower-case ASCII), or raise
    :class:`LinkRefused` naming the rule it breaks."""
    if raw is None or not raw.strip():
        raise LinkRefused("missing")
    value = raw.strip()
    if len(value) > MAX_LINK:
        raise LinkRefused("long", limit=str(MAX_LINK))
    scheme = _SCHEME_ONLY.match(value)
    if scheme and scheme.group(1).lower() in _SCRIPT_SCHEMES:
        raise LinkRefused("script")
    if _UNSAFE.search(value):
        raise LinkRefused("malformed")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise LinkRefused("malformed") from None
    if parts.scheme.lower() != "https":
        raise LinkRefused("scheme", scheme=parts.scheme or value[:20])
    if "@" in parts.netloc or parts.username is not None:
        raise LinkRefused("credentials")
    if not parts.hostname:
        raise LinkRefused("malformed")
    host = _host(parts.hostname)
    if parts.hostname.startswith("[") or ":" in host:
        raise LinkRefused("ip")
    try:
        ipaddress.ip_address(host)
        raise LinkRefused("ip")
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        raise LinkRefused("ip")
    if port not in (None, 443):
        raise LinkRefused("port")
    if not allowed_host(host, domains):
        raise LinkRefused("domain", host=host, allowed=", ".join(domains))
    for _, item in parse_qsl(parts.query, keep_blank_values=True):
        _check_embedded(item, domains)
    if parts.fragment:
        for _, item in parse_qsl(parts.fragment, keep_blank_values=True):
            _check_embedded(item, domains)
        _check_embedded(parts.fragment, domains)
    for path in _decoded(parts.path):
        for match in _EMBEDDED_IN_PATH.finditer(path.replace("\\", "/")):
            target = match.group(1).rsplit("@", 1)[-1].split(":")[0]
            if not allowed_host(target, domains):
                raise LinkRefused("redirect", target=target)
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(("https", netloc, parts.path or "/", parts.query, parts.fragment))


def links_in_text(text: str) -> list[str]:
    """Web addresses written inside a text (to check the summary's links too)."""
    found = []
    for match in _URL_IN_TEXT.finditer(text):
        link = match.group(0).rstrip(".,;:!?)»")
        found.append(link if "://" in link else "https://" + link)
    return found
