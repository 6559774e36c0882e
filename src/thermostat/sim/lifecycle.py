"""Lambda's execution-environment lifecycle for one function (environments never cross functions).

Model (DESIGN §6; every number in :class:`Lifecycle`):
- one request at a time per environment; a request that finds no idle environment creates one (a
  *cold start*: busy for ``init_ms`` + its duration); at most ``scale_out_limit`` new environments per
  ``scale_out_window_ms`` per function, beyond which a request is throttled (not served);
- idle environments are reused last-in first-out, reclaimed ``idle_ttl_ms`` after their last use and
  retired at a forced recycle ``recycle_ms ± recycle_jitter_ms`` after creation (a busy environment
  finishes its request first);
- a warm ping occupies an environment for ``hold_ms`` and refreshes its idle timer; ``n`` pings sent
  together land on ``n`` distinct environments: idle ones first (LIFO), then new ones — a *warming
  init* (billed, not seen by users). Busy environments are never pinged.

Environments are tuples ``(free_at_ms, retire_at_ms, pinged, state)`` in a min-heap (busy) and a stack
(idle, ordered by ``free_at``: if the top has outlived the idle TTL, all have). ``pinged`` says the
environment's last use was a ping: idle time after it until its next ping or its end is *wasted*
warm time; a real request clears it. ``state`` is what the target library knows inside that environment
(``[id, real requests since its last ping, start of its last real request, time of its last ping]``,
-1 = never): a ping's answer reports it, as protocol v2's ``real``/``real_age_ms``/``ping_age_ms`` do.
The hot loop is plain Python on local variables.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

INF = float("inf")
Env = tuple[float, float, bool, list[float]]
# One answer: (environment id, cold, real requests since its last ping, real_age_ms, ping_age_ms); -1 = none
AnswerTuple = tuple[int, bool, int, float, float]


@dataclass(frozen=True)
class Lifecycle:
    idle_ttl_ms: float = 10 * 60_000.0
    recycle_ms: float = 120 * 60_000.0
    recycle_jitter_ms: float = 10 * 60_000.0  # lifetime ~ uniform(recycle - jitter, recycle + jitter)
    init_ms: float = 250.0
    scale_out_limit: int = 1000
    scale_out_window_ms: float = 10_000.0


class EnvPool:
    """Replays one function's requests (sorted arrivals) interleaved with warm pings."""

    def __init__(self, arrivals: npt.NDArray[np.float64], durations: npt.NDArray[np.float64],
                 life: Lifecycle, rng: np.random.Generator, window: tuple[float, float] = (0.0, INF)) -> None:
        self.arrivals: list[float] = arrivals.tolist()
        self.durations: list[float] = durations.tolist()
        self.life = life
        self._rng = rng
        self._lifetimes: list[float] = []
        self.cursor = 0  # next request to serve
        self.busy: list[Env] = []
        self.idle: list[Env] = []
        self.cold_starts = 0
        self.throttles = 0
        self.pings = 0
        self.warming_inits = 0
        self.wasted_ms = 0.0
        self._bucket = -1
        self._bucket_count = 0
        self._next_id = 0
        self.window = window  # cold starts, throttles, pings and inits are counted inside [lo, hi) only
        self.cold_by_hour: list[int] = []  # cold starts per hour of the trace (for "after the first hour")

    def _state(self, real_start: float) -> list[float]:
        self._next_id += 1
        return [self._next_id, 1 if real_start >= 0 else 0, real_start, -1.0]

    # -- helpers -------------------------------------------------------------------------------------
    def _lifetime(self) -> float:
        if not self._lifetimes:
            life = self.life
            draws = self._rng.uniform(life.recycle_ms - life.recycle_jitter_ms,
                                      life.recycle_ms + life.recycle_jitter_ms, 64)
            self._lifetimes = draws[::-1].tolist()
        return self._lifetimes.pop()

    def _may_create(self, t: float) -> bool:
        bucket = int(t // self.life.scale_out_window_ms)
        if bucket != self._bucket:
            self._bucket, self._bucket_count = bucket, 0
        if self._bucket_count >= self.life.scale_out_limit:
            return False
        self._bucket_count += 1
        return True

    def _release(self, t: float) -> None:
        busy, idle = self.busy, self.idle
        while busy and busy[0][0] <= t:
            env = heapq.heappop(busy)
            if env[1] > env[0]:
                idle.append(env)

    def _take_idle(self, t: float) -> Env | None:
        """Pop the most recently used live idle environment (dropping reclaimed/recycled ones)."""
        idle, ttl = self.idle, self.life.idle_ttl_ms
        while idle:
            env = idle[-1]
            if t - env[0] >= ttl:
                self.wasted_ms += sum(min(e[0] + ttl, e[1]) - e[0] for e in idle if e[2])
                idle.clear()
                return None
            idle.pop()
            if env[1] > t:
                return env
            if env[2]:
                self.wasted_ms += env[1] - env[0]
        return None

    # -- the replay ----------------------------------------------------------------------------------
    def serve_until(self, until: float = INF) -> None:
        """Serve every request that arrives before ``until``."""
        arrivals, durations, busy, idle = self.arrivals, self.durations, self.busy, self.idle
        ttl, init = self.life.idle_ttl_ms, self.life.init_ms
        lo, hi = self.window
        push, pop = heapq.heappush, heapq.heappop
        i, n = self.cursor, len(arrivals)
        while i < n:
            t = arrivals[i]
            if t >= until:
                break
            while busy and busy[0][0] <= t:
                env = pop(busy)
                if env[1] > env[0]:
                    idle.append(env)
            served = False
            while idle:
                end, retire, pinged, state = idle[-1]
                if t - end >= ttl:
                    self._take_idle(t)  # accounts the waste of the whole (expired) stack
                    break
                idle.pop()
                if retire > t:
                    state[1] += 1
                    state[2] = t
                    push(busy, (t + durations[i], retire, False, state))
                    served = True
                    break
                if pinged:
                    self.wasted_ms += retire - end
            if not served:
                if self._may_create(t):
                    if lo <= t < hi:
                        self.cold_starts += 1
                        hour = int(t // 3_600_000.0)
                        by_hour = self.cold_by_hour
                        if hour >= len(by_hour):
                            by_hour.extend([0] * (hour + 1 - len(by_hour)))
                        by_hour[hour] += 1
                    push(busy, (t + init + durations[i], t + self._lifetime(), False, self._state(t)))
                elif lo <= t < hi:
                    self.throttles += 1
            i += 1
        self.cursor = i

    def ping(self, t: float, count: int, hold_ms: float, answers: list[AnswerTuple] | None = None) -> int:
        """``count`` concurrent pings at ``t``; returns the number of busy environments just after.
        With ``answers``, each ping's answer is appended to it (what the target library would report)."""
        self.serve_until(t)
        if count <= 0:
            return len(self.busy)
        self._release(t)
        push = heapq.heappush
        end = t + hold_ms
        placed = created = 0
        while placed < count:
            env = self._take_idle(t)
            if env is None:
                break
            if env[2]:
                self.wasted_ms += t - env[0]
            state = env[3]
            if answers is not None:
                answers.append((int(state[0]), False, int(state[1]),
                                t - state[2] if state[2] >= 0 else -1.0, t - state[3] if state[3] >= 0 else -1.0))
            state[1], state[3] = 0, t
            push(self.busy, (end, env[1], True, state))
            placed += 1
        while placed < count and self._may_create(t):
            state = self._state(-1.0)
            state[3] = t
            if answers is not None:
                answers.append((int(state[0]), True, 0, -1.0, -1.0))
            push(self.busy, (end + self.life.init_ms, t + self._lifetime(), True, state))
            created += 1
            placed += 1
        if self.window[0] <= t < self.window[1]:
            self.pings += placed  # a ping throttled by the scale-out limit is not billed
            self.warming_inits += created
        return len(self.busy)

    def finish(self, end_ms: float) -> None:
        """Serve the remaining requests and account the waste of environments still pinged at the end."""
        self.serve_until(INF)
        ttl = self.life.idle_ttl_ms
        for env in (*self.idle, *self.busy):
            if env[2] and env[0] < end_ms:
                self.wasted_ms += max(min(env[0] + ttl, env[1], end_ms) - env[0], 0.0)
        self.idle.clear()
        self.busy.clear()
