"""The client's address, as seen through the reverse proxies the deployment trusts (settings.TRUSTED_PROXIES).

Used wherever an address decides something: django-axes's lockout per user name and address
(AXES_CLIENT_IP_CALLABLE) and the /metrics allow-list. Behind a proxy REMOTE_ADDR is the proxy's address for
every client, so it locks one till's mistakes onto all of them and lets anyone reaching the proxy pass an
allow-list for 127.0.0.1. X-Forwarded-For is read only when REMOTE_ADDR is a trusted proxy, and only from
the right: each proxy appends the address it saw, so the right-most entry that is not itself a trusted
proxy is the client; anything further left was written by the client and proves nothing.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(value: str) -> Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind a trusted proxy the right-most X-Forwarded-For address that is not a trusted
    proxy; "" when that entry is not an address (no client owns it, and an empty address matches no allow-list)."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(_address(remote), networks):
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return ""
        if not _trusted(address, networks):
            return str(address)
    # No header (the proxy's own host calling directly), or every hop a trusted proxy: the left-most sent it.
    return str(_address(hops[0])) if hops else remote
