"""Whether a store's error says it is away (worth waiting for), not that it refused the data."""

from __future__ import annotations

__all__ = ["store_unavailable"]

_UNAVAILABLE = {
    "PostgresConnectionError",  # asyncpg: the connection failed or was lost
    "CannotConnectNowError",
    "AdminShutdownError",
    "InterfaceError",
    "ConnectionRefusedError",
}


def store_unavailable(error: BaseException) -> bool:
    """A refused, dropped or timed-out connection (any engine), rather than a refusal of the data."""
    if isinstance(error, OSError | TimeoutError | ConnectionError):
        return True
    return any(cls.__name__ in _UNAVAILABLE for cls in type(error).__mro__)
