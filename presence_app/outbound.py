"""Outbound HTTP of webhooks: the address check (the SSRF guard) and a POST pinned to the address checked.

A name is resolved once per delivery, every address it gives is checked, and the connection goes to
the checked address (TLS still verifies the certificate against the URL's host name, sent as SNI and
Host): a name that resolves elsewhere a moment later (DNS rebinding) is never connected to.
"""
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import urllib3

# IPv6 prefixes that carry an IPv4 address (NAT64): the IPv4 address is checked too.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_ANSWER_BYTES = 1024  # read of an answer, for the log; the rest is dropped


class Refused(Exception):
    """A URL or an address that webhooks may not reach."""


def check_url(url, allow_private=False):
    """The parts of a URL webhooks may POST to: https, a host, no credentials (http too when private is allowed)."""
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise Refused("must be an https URL")
    if "@" in parts.netloc:
        raise Refused("must not carry credentials")
    if not parts.hostname:
        raise Refused("must name a host")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise Refused("has an invalid port") from None
    return parts


def public(address):
    """True if `address` is a public unicast address (and so is any IPv4 address it carries)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inner = [ip]
    if ip.version == 6:
        inner += [ip.ipv4_mapped, ip.sixtofour, ip.teredo and ip.teredo[1]]
        if ip in NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(each.is_global and not each.is_multicast for each in inner if each)


def resolve(host, port, allow_private=False):
    """The addresses to connect to for `host`: every address it resolves to must be public (unless allowed)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Refused(f"{host} does not resolve")
    if not allow_private:
        refused = [address for address in addresses if not public(address)]
        if refused:
            raise Refused(f"{host} resolves to a loopback, private, link-local or multicast address ({refused[0]})")
    return addresses


def check(url, allow_private=False):
    """Refuse a URL webhooks may not reach (scheme, credentials, addresses); return (parts, addresses)."""
    parts = check_url(url, allow_private)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts, resolve(parts.hostname, port, allow_private)


def post(url, body, headers, timeout, allow_private=False, ca_file=None):
    """POST `body` to `url` at an address checked now (the next one if it cannot connect); return the status code.

    No redirect is followed: its target was never checked.
    """
    parts, addresses = check(url, allow_private)
    for address in addresses[:-1]:
        try:
            return _post_to(address, parts, body, headers, timeout, ca_file)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError):
            continue
    return _post_to(addresses[-1], parts, body, headers, timeout, ca_file)


def _post_to(address, parts, body, headers, timeout, ca_file):
    port = parts.port or (443 if parts.scheme == "https" else 80)
    options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)
        pool = urllib3.HTTPSConnectionPool(address, port, ssl_context=context, server_hostname=parts.hostname,
                                           assert_hostname=parts.hostname, **options)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        answer = pool.urlopen("POST", path, body=body, headers={**headers, "Host": parts.netloc}, redirect=False,
                              preload_content=False, assert_same_host=False)
        answer.read(MAX_ANSWER_BYTES)
        answer.release_conn()
        return answer.status
    finally:
        pool.close()
