"""Abuse limits: token buckets for messages and new chats, and a count of open
sockets per address.

State is kept in the worker process. A socket lives in one worker, so the limits
per socket and per token are exact; limits per address apply per worker (with N
workers behind a balancer an address gets up to N times the figure). That is the
resource they protect — one process's memory and event loop — while the database
is protected by the exact per-token limit. See docs/live-chat.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from canales.plugins.chat_human.settings import Limits

# Forget idle keys once a bucket holds this many (a full bucket carries no state).
_PRUNE_AT = 10_000


class TokenBucket:
    """``capacity`` tokens per key, refilled at ``rate`` per second. :meth:`take`
    spends one token, or says how long until one is available."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.clock = clock
        self._state: dict[Hashable, tuple[float, float]] = {}

    def _level(self, key: Hashable, now: float) -> float:
        tokens, stamp = self._state.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - stamp) * self.rate)

    def take(self, key: Hashable) -> float:
        """Spend a token for ``key``: 0 if allowed, else the seconds to wait."""
        now = self.clock()
        tokens = self._level(key, now)
        if tokens >= 1:
            self._state[key] = (tokens - 1, now)
            if len(self._state) > _PRUNE_AT:
                self._prune(now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def wait(self, key: Hashable) -> float:
        """How long until ``key`` may spend a token (0: now), without spending."""
        tokens = self._level(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        for key in [k for k in self._state if self._level(k, now) >= self.capacity]:
            del self._state[key]

    def __len__(self) -> int:
        return len(self._state)


class Connections:
    """Open sockets per address, with a ceiling."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self._open: dict[str, int] = {}

    def open(self, address: str) -> bool:
        """Count a new socket from ``address``; false (and not counted) if the
        address is at its ceiling."""
        count = self._open.get(address, 0)
        if count >= self.ceiling:
            return False
        self._open[address] = count + 1
        return True

    def close(self, address: str) -> None:
        """A socket from ``address`` closed."""
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def count(self, address: str) -> int:
        """Open sockets from ``address``."""
        return self._open.get(address, 0)

    @property
    def total(self) -> int:
        """Open sockets from every address."""
        return sum(self._open.values())


class SiteLimits:
    """The buckets of one site: messages per chat and per address, new chats and
    failed resumes per address, and open sockets per address."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = limits
        self.messages = TokenBucket(limits.message_burst, limits.messages_per_minute / 60, clock)
        self.address_messages = TokenBucket(limits.ip_message_burst, limits.ip_messages_per_minute / 60, clock)
        self.starts = TokenBucket(limits.start_burst, limits.starts_per_hour_per_ip / 3600, clock)
        # Guessing tokens is hopeless (256 bits), but answering guesses still costs
        # a query each: failed resumes spend from the same budget as new chats.
        self.failed_resumes = TokenBucket(limits.start_burst, limits.starts_per_hour_per_ip / 3600, clock)
        self.connections = Connections(limits.max_sockets_per_ip)
        self.clock = clock

    def frame_bucket(self) -> TokenBucket:
        """A bucket for every frame of one socket (typing, pings, everything)."""
        return TokenBucket(self.settings.frame_burst, self.settings.frames_per_second, self.clock)
