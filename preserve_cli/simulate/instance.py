"""One serving instance: continuous batching as vLLM's V0 scheduler does it, advanced in events.

Each step the scheduler first admits waiting prompts (FCFS, stopping at the first that does not
fit: at most `max_num_seqs` sequences, `max_num_batched_tokens` prompt tokens per pass, and KV
blocks for the prompt above a 1% watermark — vLLM `Scheduler._schedule_default`,
`BlockSpaceManager.can_allocate`); if it admitted any, the step is a prefill pass, which also
yields each prompt's first token. Otherwise all running sequences take a decode step, each adding
one token of KV cache; when the cache cannot hold that, the most recently admitted sequence is
preempted by recomputation (back to the head of the queue, its prompt now prompt + generated).

Between events the running batch does not change, so k decode steps are taken at once
(`InstanceTiming.decode_s`). Events: a prefill pass ends, a sequence finishes, the KV cache
runs out, or a prompt arrives that can be admitted (the decode run stops at the end of the
step in progress). KV cache is counted in tokens (vLLM's 16-token blocks are not modelled).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from preserve_cli.simulate.timing import InstanceTiming

# vLLM keeps 1% of KV blocks free when admitting prompts (EngineArgs / CacheConfig watermark=0.01).
KV_WATERMARK = 0.01

IDLE, PREFILL, DECODE = 0, 1, 2
STARTING, ACTIVE, DRAINING, STOPPED = "starting", "active", "draining", "stopped"


class Requests:
    """Per-request columns as Python lists (fast scalar access in the hot loop)."""

    def __init__(self, arrival_s: list[float], prompt: list[int], output: list[int], predicted: list[float]):
        n = len(arrival_s)
        self.arrival = arrival_s
        self.prompt = prompt
        self.output = output
        self.predicted = predicted
        self.done = [0] * n          # tokens generated before the last preemption
        self.first_token = [math.nan] * n
        self.finish = [math.nan] * n
        self.instance = [-1] * n
        self.preemptions = [0] * n
        self.aborted = [False] * n   # its prompt alone did not fit the instance's KV cache


class Instance:
    __slots__ = (
        "batch",
        "budget",
        "busy_time",
        "context",
        "event_at",
        "finishes",
        "id",
        "k",
        "kv",
        "kv_time",
        "last_sample",
        "launched_at",
        "max_seqs",
        "mode",
        "observer",
        "pool",
        "preempted",
        "queued_decode",
        "queued_prompt",
        "ready_at",
        "req",
        "running",
        "served",
        "state",
        "steps",
        "stopped_at",
        "t0",
        "timing",
        "version",
        "waiting",
        "watermark",
    )

    def __init__(self, instance_id: int, pool: object, timing: InstanceTiming, requests: Requests,
                 launched_at: float, ready_at: float) -> None:
        self.id = instance_id
        self.pool = pool
        self.timing = timing
        self.kv = timing.kv_tokens
        self.max_seqs = timing.max_num_seqs
        self.budget = timing.max_num_batched_tokens
        self.watermark = KV_WATERMARK * timing.kv_tokens
        self.req = requests
        self.observer = None          # an Anticipator when a router or scaler asks for one
        self.waiting: deque[int] = deque()
        self.queued_prompt = 0        # prompt tokens (with recomputed ones) waiting for or in a prefill pass
        self.queued_decode = 0.0      # predicted output tokens of those requests (what the router believes)
        self.running: dict[int, int] = {}   # request -> decode step count at which it finishes
        self.finishes: list[tuple[int, int]] = []
        self.steps = 0                # decode steps taken since launch
        self.context = 0              # KV tokens cached by the running sequences
        self.mode = IDLE
        self.batch: list[int] = []
        self.t0 = 0.0
        self.k = 0
        self.event_at = math.inf
        self.version = 0
        self.state = STARTING if ready_at > launched_at else ACTIVE
        self.launched_at = launched_at
        self.ready_at = ready_at
        self.stopped_at = math.nan
        self.served = 0
        self.preempted = 0

    # ---- what routers and scalers read
    def load(self) -> int:
        return len(self.running) + len(self.waiting) + (len(self.batch) if self.mode == PREFILL else 0)

    def kv_use(self) -> float:
        """Share of the KV cache held (prompts in a prefill pass included)."""
        held = self.context
        if self.mode == PREFILL:
            held += sum(self.req.prompt[r] + self.req.done[r] for r in self.batch)
        return held / self.kv

    def empty(self) -> bool:
        return not self.running and not self.waiting and self.mode != PREFILL

    # ---- events
    def enqueue(self, r: int, now: float) -> float | None:
        """A routed request arrives; returns the new event time if it changed."""
        req = self.req
        self.waiting.append(r)
        req.instance[r] = self.id
        self.queued_prompt += req.prompt[r] + req.done[r]
        self.queued_decode += max(1.0, req.predicted[r] - req.done[r])
        if self.mode == IDLE:
            return self._schedule(now)
        if (self.mode == DECODE and len(self.waiting) == 1 and len(self.running) < self.max_seqs
                and self._admissible(r, self.context)):
            k = self._steps_by(now)
            if k < self.k:
                self.k = k
                self.event_at = self.t0 + self.timing.decode_s(len(self.running), self.context, k)
                self.version += 1
                return self.event_at
        return None

    def on_event(self, now: float) -> float | None:
        """The current prefill pass or decode run ends at `now`; start the next one."""
        req = self.req
        if self.mode == PREFILL:
            output, done, first = req.output, req.done, req.first_token
            observer = self.observer
            predicted = req.predicted
            for r in self.batch:
                self.queued_prompt -= req.prompt[r] + done[r]
                self.queued_decode -= max(1.0, predicted[r] - done[r])
                if first[r] != first[r]:
                    first[r] = now
                generated = done[r] + 1
                if generated >= output[r]:
                    self._finished(r, now)
                    continue
                end = self.steps + output[r] - generated
                self.running[r] = end
                heapq.heappush(self.finishes, (end, r))
                self.context += req.prompt[r] + done[r]
                if observer is not None:
                    observer.admit(r, self.steps, generated)
            self.batch = []
        elif self.mode == DECODE:
            k = self.k
            self.steps += k
            self.context += len(self.running) * k
            if self.observer is not None and k:
                self.observer.advance(self.steps)
            finishes, running, steps = self.finishes, self.running, self.steps
            while finishes and finishes[0][0] <= steps:
                end, r = heapq.heappop(finishes)
                if running.get(r) == end:
                    del running[r]
                    self.context -= req.prompt[r] + req.output[r] - 1
                    self._finished(r, now)
        return self._schedule(now)

    def _finished(self, r: int, now: float) -> None:
        self.req.finish[r] = now
        self.served += 1
        if self.observer is not None:
            self.observer.release(r, self.steps)

    def _admissible(self, r: int, held: int) -> bool:
        need = self.req.prompt[r] + self.req.done[r] + 1
        return need <= self.kv - held - self.watermark

    def _schedule(self, now: float) -> float | None:
        req = self.req
        waiting = self.waiting
        while waiting and not self.running and not self._admissible(waiting[0], 0):
            # Not even an empty cache holds this prompt (a pool smaller than the largest): vLLM aborts it.
            r = waiting.popleft()
            self.queued_prompt -= req.prompt[r] + req.done[r]
            self.queued_decode -= max(1.0, req.predicted[r] - req.done[r])
            req.aborted[r] = True
        if waiting:
            held = self.context
            seats = self.max_seqs - len(self.running)
            tokens = 0
            batch = []
            while waiting and seats > 0:
                r = waiting[0]
                p = req.prompt[r] + req.done[r]
                if (batch and tokens + p > self.budget) or not self._admissible(r, held):
                    break
                waiting.popleft()
                batch.append(r)
                tokens += p
                held += p
                seats -= 1
            if batch:
                self.timing.ensure_prompt_tokens(tokens)
                self.batch = batch
                self.mode = PREFILL
                self.event_at = now + self.timing.prefill_s([req.prompt[r] + req.done[r] for r in batch])
                self.version += 1
                return self.event_at
        if not self.running:
            self.mode = IDLE
            self.event_at = math.inf
            self.version += 1
            return None
        batch_size = len(self.running)
        while self.context + batch_size > self.kv and batch_size > 1:
            self._preempt_last()
            batch_size -= 1
        k_kv = (self.kv - self.context) // batch_size
        while self.finishes[0][1] not in self.running or self.running[self.finishes[0][1]] != self.finishes[0][0]:
            heapq.heappop(self.finishes)
        k = min(self.finishes[0][0] - self.steps, max(k_kv, 1))
        self.mode = DECODE
        self.t0 = now
        self.k = k
        self.event_at = now + self.timing.decode_s(batch_size, self.context, k)
        self.version += 1
        return self.event_at

    def _preempt_last(self) -> None:
        req = self.req
        r, end = self.running.popitem()
        generated = req.output[r] - (end - self.steps)
        self.context -= req.prompt[r] + generated - 1
        req.done[r] = generated
        req.preemptions[r] += 1
        self.preempted += 1
        self.waiting.appendleft(r)
        self.queued_prompt += req.prompt[r] + generated
        self.queued_decode += max(1.0, req.predicted[r] - generated)
        if self.observer is not None:
            self.observer.release(r, self.steps)

    def _steps_by(self, now: float) -> int:
        """Decode steps of the current run completed once the step in progress at `now` ends."""
        elapsed = now - self.t0
        if elapsed <= 0:
            return 0
        timing = self.timing
        b = len(self.running)
        quad = timing.context_slope * b / 2
        lin = timing.decode_base[b] + timing.context_slope * (self.context - b / 2)
        if quad > 0:
            root = (-lin + math.sqrt(lin * lin + 4 * quad * elapsed)) / (2 * quad)
        else:
            root = elapsed / lin
        k = max(1, math.ceil(root - 1e-9))
        while k > 1 and timing.decode_s(b, self.context, k - 1) >= elapsed:
            k -= 1
        while timing.decode_s(b, self.context, k) < elapsed:
            k += 1
        return k
