"""OAuth 2.0 bearer tokens (RFC 7628 OAUTHBEARER, Google's XOAUTH2): JWTs from one OIDC issuer.

A token is accepted when its signature verifies against a key from the issuer's JWKS, and its
issuer, audience and expiry check out. The mailbox is the address in a configured claim (`email`
by default). Amazon Cognito's access tokens carry the app client in `client_id` rather than `aud`,
so either claim may match the configured audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import jwt

from popdrop.faces.faults import StorageUnavailable
from popdrop.model import Address, InvalidAddress, normalize_address

ALGORITHMS: Final = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
# Clock skew tolerated between the issuer and us.
LEEWAY_SECONDS: Final = 30
# A JWT is a few hundred octets to a few KiB; refusing huge ones bounds the work per attempt.
MAX_TOKEN_LENGTH: Final = 16 * 1024


class IssuerUnavailable(StorageUnavailable):
    """The issuer's key set could not be fetched. To a login it is like storage that is
    unavailable: the same attempt may succeed later ([SYS/TEMP])."""


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    issuer: str
    audience: str
    jwks_url: str
    mailbox_claim: str = "email"


class TokenValidator:
    """Validates tokens; fetching the JWKS is blocking network IO, so callers use a thread."""

    def __init__(self, config: OAuthConfig, *, fetch_timeout: float = 5.0) -> None:
        self._config = config
        # PyJWKClient caches the key set and refetches when it meets an unknown key id (rotation).
        self._keys = jwt.PyJWKClient(config.jwks_url, cache_keys=True, timeout=int(fetch_timeout))

    def mailbox_for(self, token: str) -> Address | None:
        """The mailbox address the token grants, or None when it grants nothing.

        Raises IssuerUnavailable when the JWKS cannot be fetched.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                issuer=self._config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise IssuerUnavailable(str(error)) from error
        except jwt.PyJWTError:
            return None
        if self._config.audience not in _audiences(claims):
            return None
        value = claims.get(self._config.mailbox_claim)
        if not isinstance(value, str):
            return None
        try:
            return normalize_address(value)
        except InvalidAddress:
            return None


def _audiences(claims: dict[str, Any]) -> set[str]:
    audience = claims.get("aud")
    if isinstance(audience, str):
        found = {audience}
    elif isinstance(audience, list):
        found = {a for a in audience if isinstance(a, str)}
    else:
        found = set()
    if isinstance(claims.get("client_id"), str):
        found.add(claims["client_id"])
    return found
