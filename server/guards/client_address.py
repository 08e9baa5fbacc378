"""The address a connection comes from, trusting X-Forwarded-For only from our proxies.

Behind nginx every connection comes from the proxy, so limits per address need the
real client address from `X-Forwarded-For`. That header is set by whoever sends the
request, so it counts only when the direct peer is listed in TRUSTED_PROXIES; then
the client is the right-most address in the chain that is not itself a proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16' style entries as networks (ValueError if bad)."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs)


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(environ: Mapping[str, Any], trusted: tuple[Network, ...]) -> str:
    peer = str(environ.get("REMOTE_ADDR") or "unknown")
    if not trusted or not is_trusted(peer, trusted):
        return peer
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR", ""))
    chain = [part.strip() for part in forwarded.split(",") if part.strip()]
    for hop in reversed(chain):
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return chain[0] if chain else peer
