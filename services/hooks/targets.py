"""Where deliveries may go: no internal address unless an operator allows it (SSRF).

A URL is checked when it is registered *and* at each connection, because its name may resolve
elsewhere by then. `PinnedTransport` resolves the name, checks every address, and connects to
the checked one (keeping the `Host` header and, for https, the name in SNI and in the
certificate check), so no second look-up can slip an internal address in between.
"""

import asyncio
import ipaddress
import socket

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefusedError(Exception):
    """A URL that deliveries may not go to; the message says why."""


class AllowList:
    """The operator's exceptions (`HOOKS_ALLOWED_TARGETS`): host names and networks (CIDR)."""

    def __init__(self, entries: str) -> None:
        self.hosts: set[str] = set()
        self.networks: list[Network] = []
        for entry in (item.strip().lower() for item in entries.split(",")):
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def admits_host(self, host: str) -> bool:
        """The host is named in the list (so any address it resolves to is accepted)."""
        return host.lower().rstrip(".") in self.hosts

    def admits_address(self, address: IPAddress) -> bool:
        """The address lies in an allowed network."""
        return any(address in network for network in self.networks)


def is_internal(address: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified or otherwise not global."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_scheme(url: httpx.URL, allow: AllowList, *, https_only: bool) -> None:
    """http or https with a host; https only when `https_only`, unless the host is allowed."""
    if url.scheme not in ("http", "https") or not url.host:
        raise TargetRefusedError("The URL must be an http or https URL with a host.")
    if url.userinfo:
        raise TargetRefusedError("The URL may not carry a user name or password.")
    if https_only and url.scheme != "https" and not allow.admits_host(url.host):
        raise TargetRefusedError("The URL must use https.")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to (an IP literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefusedError(f"The host {host} does not resolve.") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return list(dict.fromkeys(addresses))


async def checked_addresses(url: httpx.URL, allow: AllowList) -> list[IPAddress]:
    """The addresses of `url`'s host, once every one of them is allowed."""
    host = url.host
    addresses = await resolve(host, url.port or (443 if url.scheme == "https" else 80))
    if not addresses:
        raise TargetRefusedError(f"The host {host} does not resolve.")
    if allow.admits_host(host):
        return addresses
    for address in addresses:
        if is_internal(address) and not allow.admits_address(address):
            raise TargetRefusedError(
                f"The host {host} resolves to {address}, an internal address;"
                " an operator can allow it with HOOKS_ALLOWED_TARGETS."
            )
    return addresses


async def check_url(url: str, allow: AllowList, *, https_only: bool) -> None:
    """`TargetRefusedError` unless deliveries may go to `url` now."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefusedError("The URL is not valid.") from exc
    check_scheme(parsed, allow, https_only=https_only)
    await checked_addresses(parsed, allow)


class PinnedTransport(httpx.AsyncBaseTransport):
    """Each request goes to an address checked just before (see the module docstring)."""

    def __init__(
        self,
        allow: AllowList,
        *,
        https_only: bool,
        inner: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits,
    ) -> None:
        self._allow = allow
        self._https_only = https_only
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        check_scheme(url, self._allow, https_only=self._https_only)
        address = (await checked_addresses(url, self._allow))[0]
        # The Host header was set from the name when the request was built, and stays.
        request.url = url.copy_with(host=str(address))
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
