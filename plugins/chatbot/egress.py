"""Where the bot's actions may connect: only hosts the site allow-listed, and never
to an internal address (no SSRF into the organism's network).

A host is resolved here, every address it resolves to is checked, and the request
then goes to the checked address (the ``Host`` header and TLS SNI keep the name), so
a DNS answer that changes between check and connect cannot slip through.
Loopback is refused unless the site lists the host in ``allow_loopback_hosts``
(meant for tests and local development only); private, link-local, multicast,
reserved and other non-global addresses are always refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

Resolver = Callable[[str, int], Awaitable[list[str]]]


class EgressRefused(Exception):
    """The request may not be made (host not allowed, internal address)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class EgressPolicy:
    """The hosts a site's actions may reach."""

    allowed_hosts: frozenset[str]
    loopback_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, allowed: Collection[str], loopback: Collection[str] = ()) -> "EgressPolicy":
        return cls(frozenset(h.lower() for h in allowed), frozenset(h.lower() for h in loopback))

    def check_address(self, host: str, address: str) -> None:
        """Raise :class:`EgressRefused` unless ``address`` may be contacted for
        ``host``."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise EgressRefused(f"{host} resolved to something that is not an address: {address!r}") from None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            if host in self.loopback_hosts:
                return
            raise EgressRefused(f"{host} resolves to the loopback address {ip}; refused")
        if not ip.is_global or ip.is_multicast or ip.is_reserved:
            raise EgressRefused(f"{host} resolves to the internal address {ip}; refused")

    async def resolve(self, host: str, port: int, resolver: Resolver = system_resolver) -> str:
        """The address to connect to for ``host``: the first of its addresses, once
        all of them are checked (one bad address refuses the host: a name that
        mixes public and internal addresses is not to be trusted)."""
        host = host.lower().rstrip(".")
        if host not in self.allowed_hosts:
            raise EgressRefused(f"{host} is not in allowed_hosts")
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise EgressRefused(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise EgressRefused(f"{host} has no address")
        for address in addresses:
            self.check_address(host, address)
        return addresses[0]
