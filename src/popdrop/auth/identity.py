"""From the name a client logs in with to a mailbox address."""

from __future__ import annotations

from popdrop.model import Address, InvalidAddress, normalize_address


def resolve_login(username: str, default_domain: str = "") -> Address | None:
    """The mailbox address `username` names, or None when it names none.

    With a default domain configured, a bare local part ("alice") means alice@<default domain>,
    so users of a single-domain deployment can log in with the short name their client suggests.
    """
    if "@" not in username and default_domain:
        username = f"{username}@{default_domain}"
    try:
        return normalize_address(username)
    except InvalidAddress:
        return None
