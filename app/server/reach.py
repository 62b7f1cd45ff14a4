"""Where students can reach this server: the machine's network addresses, best
first, as the base URLs of room links.

The listing of interfaces is a function handed in (`ListAddresses`), so a test
gives a made-up list and sends traffic to loopback only. The order: private
IPv4 (RFC 1918, a school network) first, then other IPv4, then IPv6 (unique
local before global). Loopback and link-local addresses (169.254/16,
fe80::/10: no router passes them) are dropped; no student device can open them.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable

from app.protocol.reach import Reach
from app.settings import Settings

log = logging.getLogger("paramlab.reach")

ListAddresses = Callable[[], list[str]]
# Host settings that mean "every address": of both families, or of IPv4 only.
ALL_ADDRESSES = ("::", "")
ALL_IPV4 = ("0.0.0.0",)
PRIVATE_IPV4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
ADVICE_LOOPBACK = (
    "Students' devices cannot reach this server: it listens only on this computer (127.0.0.1), so there is "
    "no link or QR code for them. Students on this computer can still join with the code. For a class, stop "
    "the server and start it with: paramlab --classroom (behind a reverse proxy, set PARAMLAB_PUBLIC_URL "
    "to its address instead).")
ADVICE_NO_NETWORK = (
    "Students' devices cannot reach this server: this computer has no network address they could use "
    "(only loopback or link-local ones). Connect it to the classroom network and reload, or, behind a "
    "reverse proxy, set PARAMLAB_PUBLIC_URL to its address.")


def machine_addresses() -> list[str]:
    """Every address of this machine's network interfaces, in the order they are listed
    (IPv6 without its zone: 'fe80::1%eth0' -> 'fe80::1'). Empty if they cannot be listed."""
    try:
        import ifaddr

        adapters = ifaddr.get_adapters()
    except Exception:
        log.warning("could not list this machine's network addresses")
        return []
    addresses = []
    for adapter in adapters:
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]  # IPv6: (address, flowinfo, scope)
            addresses.append(address.split("%")[0])
    return addresses


def address_lister(settings: Settings) -> ListAddresses:
    """The machine's addresses as the settings name them, else as its interfaces list them."""
    given = settings.network_addresses
    if given is not None:
        return lambda: list(given)
    return machine_addresses


def _rank(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int | None:
    """0 is best; None: no student device can open it."""
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return 0 if any(ip in n for n in PRIVATE_IPV4) else 1
    if ip.ipv4_mapped is not None:
        return None
    return 2 if ip in UNIQUE_LOCAL else 3


def student_addresses(addresses: Iterable[str], ipv6: bool = True) -> list[str]:
    """The addresses a student's device may open, best first, each once (in listing order
    within a rank). Names that are not IP addresses are skipped."""
    ranked: dict[str, int] = {}
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        rank = _rank(ip)
        if rank is not None and (ipv6 or ip.version == 4):
            ranked.setdefault(str(ip), rank)
    return sorted(ranked, key=lambda a: ranked[a])  # sorted() is stable: listing order within a rank


def base_url(host: str, port: int, scheme: str = "http") -> str:
    """'http://192.168.1.5:8000', 'http://[fd00::5]:8000' (no final slash; port 80/443 left out for http/https)."""
    shown = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{shown}" if port == default else f"{scheme}://{shown}:{port}"


def listens_beyond_loopback(host: str) -> bool:
    try:
        return host in ALL_ADDRESSES or not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def student_urls(settings: Settings, addresses: Iterable[str], port: int) -> list[str]:
    """The base URLs students can open, best first: the public URL alone when set; else
    the addresses the server listens on (every one, or the one it was given); none for loopback."""
    if settings.public_url:
        return [settings.public_url]
    host = settings.host
    if not listens_beyond_loopback(host):
        return []
    if host in ALL_ADDRESSES or host in ALL_IPV4:
        chosen = student_addresses(addresses, ipv6=host not in ALL_IPV4)
    else:
        chosen = student_addresses([host])
        if not chosen:  # a host name: it is what students open
            return [base_url(host, port)]
    return [base_url(a, port) for a in chosen]


def describe(settings: Settings, addresses: Iterable[str], port: int, page_base: str | None = None) -> Reach:
    """What the page needs to build a room link. `page_base`: the base URL the page itself
    was opened on when that is a non-loopback name this server answers to; it comes first."""
    urls = student_urls(settings, addresses, port)
    if urls and not settings.public_url and page_base is not None:
        urls = [page_base, *(u for u in urls if u != page_base)]
    advice = None
    if not urls:
        advice = ADVICE_NO_NETWORK if listens_beyond_loopback(settings.host) else ADVICE_LOOPBACK
    return Reach(public_url=settings.public_url, urls=urls, reachable=bool(urls), advice=advice)
