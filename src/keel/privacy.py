"""User ids at rest: a keyed hash, so budgets and reports can group by user without storing who.

The ledger, the budget and rate-limit counters (Redis keys) and the call logs hold ``u_`` and 32 hex
digits — HMAC-SHA256 of the id the caller sent, under a key every replica shares — instead of the
id itself (an e-mail address, often). The same id always gives the same pseudonym, so a user's
budget and report lines work as before; whoever holds the key can compute the pseudonym of a known
id (``keel users pseudonym ID``), nobody can read an id back from one. The key is, in this order:
``privacy.user_id_key``, ``$KEEL_USER_ID_KEY``, or derived from the master key
(``server.master_key`` / ``$KEEL_MASTER_KEY``). With none of them, or ``privacy.user_ids: clear``
(the operator's explicit choice), ids are stored as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

__all__ = ["UserIds", "user_ids_for"]

_DERIVATION = b"keel user ids v1"
_CACHED = 4096  # pseudonyms remembered per process: a busy user's calls hash once


class UserIds:
    """Turns the user ids callers send into what Keel stores (``ref``)."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key
        self._known: dict[str, str] = {}

    @property
    def pseudonymous(self) -> bool:
        return self._key is not None

    @staticmethod
    def is_pseudonym(value: str) -> bool:
        """Whether ``value`` has a pseudonym's shape (``u_`` and 32 hex digits)."""
        return len(value) == 34 and value.startswith("u_") and all(c in "0123456789abcdef" for c in value[2:])

    def ref(self, user: str | None) -> str | None:
        """What is stored for ``user``: its pseudonym, or the id itself when ids are kept clear."""
        if user is None or self._key is None:
            return user
        known = self._known.get(user)
        if known is None:
            known = "u_" + hmac.new(self._key, user.encode(), hashlib.sha256).hexdigest()[:32]
            if len(self._known) >= _CACHED:
                self._known.clear()
            self._known[user] = known
        return known


def user_ids_for(config: Config) -> UserIds:
    """The ``UserIds`` ``config`` asks for (see the module's text for where the key comes from)."""
    settings = config.privacy
    if settings.user_ids == "clear":
        return UserIds(None)
    if settings.user_id_key is not None:
        return UserIds(settings.user_id_key.get_secret_value().encode())
    if env := os.environ.get("KEEL_USER_ID_KEY"):
        return UserIds(env.encode())
    master = config.server.master_key
    secret = master.get_secret_value() if master is not None else os.environ.get("KEEL_MASTER_KEY")
    if secret:
        return UserIds(hmac.new(secret.encode(), _DERIVATION, hashlib.sha256).digest())
    return UserIds(None)
