"""Who may drive the explorer: this machine's browser, not any web page it visits.

The explorer is a web server on the user's machine, and every page the user's
browser opens can send it requests. Three checks keep them out:

* **Host** (DNS rebinding): a page on ``attacker.example`` whose name is made to
  resolve to 127.0.0.1 reaches the server with ``Host: attacker.example``. Only
  ``localhost``, loopback addresses, the address the server is bound to (and,
  bound to every interface, any IP address) are answered; a name is never
  trusted unless it is the one given to ``--host``.
* **Origin**: a request that changes state (POST, DELETE) from a page of
  another origin is refused (``Origin`` or ``Sec-Fetch-Site`` say so).
* **Token**: every POST and DELETE carries ``X-LAM-Token``, the session's
  secret from ``GET /api/config``. A cross-site form cannot set a header, and a
  cross-site script cannot read the config (no CORS), so neither can forge it.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Optional

#: The header that carries the session's token on POST and DELETE.
TOKEN_HEADER = "X-LAM-Token"
#: Methods that never change the server's state.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_WILDCARDS = ("", "0.0.0.0", "::")


def host_name(host_header: str) -> str:
    """The name or address of a ``Host`` header, without its port, lower case.

    >>> host_name("[::1]:8765"), host_name("LOCALHOST:80"), host_name("10.0.0.2")
    ('::1', 'localhost', '10.0.0.2')
    """
    text = host_header.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text


def _address(name: str) -> Optional[ipaddress._BaseAddress]:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def host_allowed(host_header: Optional[str], bound: Optional[str]) -> bool:
    """Whether a request with this ``Host`` header may be answered.

    Parameters
    ----------
    host_header : str or None
        The request's ``Host`` header.
    bound : str or None
        The ``--host`` the server listens on (None: the loopback address).

    Examples
    --------
    >>> host_allowed("127.0.0.1:8765", "127.0.0.1"), host_allowed("localhost", None)
    (True, True)
    >>> host_allowed("attacker.example:8765", "127.0.0.1")
    False
    >>> host_allowed("192.168.1.5:8765", "0.0.0.0")
    True
    """
    if not host_header:
        return False
    name = host_name(host_header)
    bound_name = host_name(bound or "127.0.0.1")
    if name == "localhost" or name == bound_name:
        return True
    address = _address(name)
    if address is None:
        return False  # a DNS name: exactly what a rebinding attack sends
    return address.is_loopback or bound_name in _WILDCARDS


def origin_refusal(
    method: str,
    host_header: Optional[str],
    origin: Optional[str],
    fetch_site: Optional[str],
    token: Optional[str],
    expected_token: str,
) -> Optional[str]:
    """Why a request must be refused (403), or None when it may go on."""
    if method.upper() in SAFE_METHODS:
        return None
    if fetch_site is not None and fetch_site.lower() == "cross-site":
        return "refused: a request from another site cannot change this server"
    if origin is not None:
        own = f"http://{(host_header or '').lower()}"
        if origin.lower() != own:
            return (
                f"refused: a request from {origin} cannot change this server "
                "(only its own page can)"
            )
    if token is None or not hmac.compare_digest(token, expected_token):
        return (
            f"refused: POST and DELETE need the {TOKEN_HEADER} header with the "
            "session's token (from GET /api/config)"
        )
    return None
