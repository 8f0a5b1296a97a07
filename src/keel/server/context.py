"""``ApiContext``: what every API handler shares — the gateway, the server's settings, the key store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import ServerConfig

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["ApiContext"]


@dataclass(eq=False)
class ApiContext:
    """One server's shared state; ``keys`` is the virtual-key store when auth uses one."""

    gateway: Gateway
    settings: ServerConfig
    keys: Any = None
    started: int = field(default_factory=lambda: int(time.time()))
    draining: bool = False
