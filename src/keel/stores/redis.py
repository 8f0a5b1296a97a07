"""Hot state in Redis (``state: redis://…``), shared by every worker and replica.

Each operation is one Lua script, so a read-decide-write is atomic across replicas; the clock is
Redis's own ``TIME``, so replicas with skewed clocks still agree. Keys carry the route in a hash
tag (``keel:breaker:{route}:…``), so a route's keys share one slot on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from .base import BreakerSettings, BreakerState, Hold, Limit, Refusal

__all__ = ["CountersLostError", "RedisBreakerStore", "RedisCounters", "connect"]


def connect(url: str, *, max_connections: int = 64, decode_responses: bool = True) -> Redis:
    """A client whose pool makes callers wait for a connection rather than fail under load; values
    come back as ``str``, or as ``bytes`` with ``decode_responses=False``."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        decode_responses=decode_responses,
        # A store that is away fails an operation in seconds, not at the kernel's TCP timeout, so the
        # outage policies (stores/resilient.py) take over.
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        # A connection pooled before Redis restarted fails once; its operation is tried again at
        # once on a fresh one, instead of that failure starting an outage.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )
    return Redis(connection_pool=pool)


_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
"""

# KEYS: counters. ARGV: amount, then per key its ceiling (negative: the key must only exist, a
# marker; it is not counted) and its TTL in ms. Returns {0}, {i, used, pttl} for the limit that would
# pass its ceiling, or {-1} when a required key is missing.

# KEYS[1] state hash, KEYS[2] failures zset. ARGV: threshold, window, open_for, ttl, [seconds]
_OPEN = """
local function open_circuit(now)
  redis.call('HSET', KEYS[1], 'opened_until', now + tonumber(ARGV[3]), 'half_open', 0, 'probe_out', 0)
  redis.call('DEL', KEYS[2])
end
local function keep()
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
"""

_ACQUIRE = (
    _NOW
    + _OPEN
    + """
local s = redis.call('HMGET', KEYS[1], 'cooldown_until', 'opened_until', 'probe_out', 'probe_at')
local cooldown = tonumber(s[1] or 0)
if cooldown > now then return tostring(cooldown - now) end
if not s[2] then return false end
local opened = tonumber(s[2])
if now < opened then return tostring(opened - now) end
if s[3] == '1' and now - tonumber(s[4] or 0) < tonumber(ARGV[3]) then
  return tostring(tonumber(ARGV[3]) / 10)
end
redis.call('HSET', KEYS[1], 'half_open', 1, 'probe_out', 1, 'probe_at', now)
keep()
return false
"""
)

_FAILURE = (
    _NOW
    + _OPEN
    + """
if redis.call('HGET', KEYS[1], 'half_open') == '1' then
  open_circuit(now)
  keep()
  return 1
end
redis.call('ZADD', KEYS[2], now, tostring(now) .. ':' .. redis.call('INCR', KEYS[1] .. ':seq'))
redis.call('EXPIRE', KEYS[1] .. ':seq', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then open_circuit(now) end
keep()
return 1
"""
)

_SUCCESS = """
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'opened_until', 'half_open', 'probe_out', 'probe_at')
return 1
"""

_RELEASE = """
redis.call('HSET', KEYS[1], 'probe_out', 0)
return 1
"""

_COOL_DOWN = (
    _NOW
    + _OPEN
    + """
local till = now + tonumber(ARGV[5])
local current = tonumber(redis.call('HGET', KEYS[1], 'cooldown_until') or 0)
if till > current then redis.call("HSET", KEYS[1], "cooldown_until", till) end
keep()
return 1
"""
)

_SNAPSHOT = (
    _NOW
    + """
local s = redis.call('HMGET', KEYS[1], 'opened_until', 'cooldown_until')
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
return {tostring(now), s[1] or '', s[2] or '', redis.call('ZCARD', KEYS[2])}
"""
)


class RedisBreakerStore:
    """The breaker state machine of ``MemoryBreakerStore``, shared through Redis."""

    def __init__(self, redis: Redis, settings: BreakerSettings, *, prefix: str = "keel:") -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = prefix
        self._scripts = {
            name: redis.register_script(source)
            for name, source in {
                "acquire": _ACQUIRE,
                "failure": _FAILURE,
                "success": _SUCCESS,
                "release": _RELEASE,
                "cool_down": _COOL_DOWN,
                "snapshot": _SNAPSHOT,
            }.items()
        }

    @property
    def settings(self) -> BreakerSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: BreakerSettings) -> None:
        """New thresholds apply to the next failure or acquire; circuits keep their state."""
        self._settings = settings
        ttl = int(max(settings.window, settings.open_for) * 2 + 60)
        self._args = [settings.failure_threshold, settings.window, settings.open_for, ttl]

    @classmethod
    def from_url(cls, url: str, settings: BreakerSettings, **options: Any) -> RedisBreakerStore:
        return cls(connect(url), settings, **options)

    def _keys(self, route: str) -> list[str]:
        tag = route.replace("{", "(").replace("}", ")")
        return [f"{self.prefix}breaker:{{{tag}}}:state", f"{self.prefix}breaker:{{{tag}}}:failures"]

    async def _run(self, name: str, route: str, *extra: float) -> Any:
        return await self._scripts[name](keys=self._keys(route), args=[*self._args, *extra])

    async def acquire(self, route: str) -> float | None:
        wait = await self._run("acquire", route)
        return None if wait is None else float(wait)

    async def release(self, route: str) -> None:
        await self._run("release", route)

    async def record_success(self, route: str) -> None:
        await self._run("success", route)

    async def record_failure(self, route: str) -> None:
        await self._run("failure", route)

    async def cool_down(self, route: str, seconds: float) -> None:
        await self._run("cool_down", route, seconds)

    async def snapshot(self, route: str) -> BreakerState:
        now, opened, cooldown, failures = await self._run("snapshot", route)
        if not opened:
            return BreakerState("closed", int(failures), float(cooldown) if cooldown else None)
        if float(now) < float(opened):
            return BreakerState("open", 0, float(opened))
        return BreakerState("half_open", 0, None)

    async def aclose(self) -> None:
        await self.redis.aclose()


# KEYS: counters. ARGV[1] amount, then (ceiling, ttl_ms) per key; ttl_ms 0 = no expiry.
_RESERVE = """
local amount = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local ceiling = tonumber(ARGV[2 * i])
  if ceiling < 0 then
    if redis.call('EXISTS', key) == 0 then return {-1} end
  else
    local used = tonumber(redis.call('GET', key) or 0)
    if used + amount > ceiling then
      return {i, used, redis.call('PTTL', key)}
    end
  end
end
for i, key in ipairs(KEYS) do
  if tonumber(ARGV[2 * i]) >= 0 then
    redis.call('INCRBY', key, amount)
    local ttl = tonumber(ARGV[2 * i + 1])
    if ttl > 0 and redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
return {0}
"""

# KEYS: counters. ARGV[1] actual - held.
_SETTLE = """
local delta = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local value = redis.call('INCRBY', key, delta)
    if value < 0 then redis.call('INCRBY', key, -value) end
  end
end
return 1
"""


class CountersLostError(Exception):
    """A reservation's required key (``Limit`` with a negative ceiling: it must exist) is missing."""


class RedisCounters:
    """Counters shared by every replica; a reservation over many keys is one Lua script.

    Callers give every key of one reservation the same hash tag (e.g. ``{keel-budget}``), so a
    multi-key script stays in one slot on Redis Cluster.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @classmethod
    def from_url(cls, url: str) -> RedisCounters:
        return cls(connect(url))

    async def reserve(self, limits: Sequence[Limit], amount: int) -> Hold | Refusal:
        args: list[int] = [amount]
        for limit in limits:
            args += [limit.ceiling, int((limit.ttl_s or 0) * 1000)]
        result = await self._reserve(keys=[limit.key for limit in limits], args=args)
        if int(result[0]) == 0:
            return Hold(tuple(limit.key for limit in limits if limit.ceiling >= 0), amount)
        if int(result[0]) == -1:
            raise CountersLostError("a key the reservation requires is missing: the store lost its data")
        limit = limits[int(result[0]) - 1]
        pttl = int(result[2])
        resets = pttl / 1000 if pttl > 0 else (limit.ttl_s or float("inf"))
        return Refusal(limit, int(result[1]), resets)

    async def settle(self, hold: Hold, actual: int) -> None:
        await self._settle(keys=list(hold.keys), args=[actual - hold.amount])

    async def read(self, keys: Sequence[str]) -> list[int]:
        values = await self.redis.mget(list(keys)) if keys else []
        return [int(value or 0) for value in values]

    async def aclose(self) -> None:
        await self.redis.aclose()
