"""Actor: time, which expires credentials (R14, D15).

A credential token expires at its ``expires_at``; ``expire_credential``
expires every token of that credential issued so far, now. Extension
provisioning that finishes at or after the expiry of a token the model
references fails (R14: ``ScaleSet.provisioning_fails``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.events import ExpireCredential, Rejected

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def tokens_of(ss: ScaleSet, name: str) -> list[int]:
    """The tokens (expiry times) of credential ``name``; refused if undeclared."""
    if name not in ss.tokens:
        raise Rejected(f"no such credential: {name}")
    return ss.tokens[name]


def expire_credential(ss: ScaleSet, ev: ExpireCredential) -> None:
    """R14, D15: every token of the credential issued so far expires now.

    The tokens before ``ss.expired_upto[name]`` already expired at an earlier
    expiry (at or before now): only the ones issued since change, so each
    token is touched once however many expiries follow."""
    tokens = tokens_of(ss, ev.name)
    now = ss.now
    for k in range(ss.expired_upto[ev.name], len(tokens)):
        tokens[k] = min(tokens[k], now)
    ss.expired_upto[ev.name] = len(tokens)
    ss.record("credential_expired", ev)
