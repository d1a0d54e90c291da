"""Counters since start-up, for /stats and for Prometheus (/metrics).

One ``add`` call feeds both: the plain counts behind /stats and the Prometheus metric the
event belongs to. Each Stats has its own registry, so tests and several applications in one
process never share counters.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

# event name -> (metric, label value)
_EVENTS = {
    "answered": ("answers", "found"),
    "declined": ("answers", "declined"),
    "llm": ("llm", "answered"),
    "llm_fallback": ("llm", "fallback"),
    "digest_sent": ("digests", "sent"),
    "digest_failed": ("digests", "failed"),
    "digest_skipped": ("digests", "skipped"),
    "digest_blocked": ("digests", "blocked"),
    "digest_empty": ("digests", "empty"),
    "digest_deferred": ("digests", "deferred"),
}


class Stats:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.registry = CollectorRegistry()
        r = self.registry
        self._metrics = {
            "answers": PromCounter(
                "partnerbrief_answers", "Questions, by outcome", ["outcome"], registry=r
            ),
            "llm": PromCounter(
                "partnerbrief_llm_calls", "LLM rephrasing, by outcome", ["outcome"], registry=r
            ),
            "digests": PromCounter(
                "partnerbrief_digests", "Digest deliveries, by outcome", ["outcome"], registry=r
            ),
        }
        self.updates = PromCounter(
            "partnerbrief_updates", "Telegram updates handled, by type", ["type"], registry=r
        )
        self.rate_limit_waits = PromCounter(
            "partnerbrief_rate_limit_waits",
            "Flood-control answers (429) from Telegram",
            registry=r,
        )
        self.llm_seconds = Histogram(
            "partnerbrief_llm_seconds",
            "Time to an LLM answer or fallback",
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60),
        )
        self.llm_outcomes = PromCounter(
            "partnerbrief_llm_outcomes",
            "How LLM-phrased questions ended: llm, or why the extract was given",
            ["reason"],
            registry=r,
        )
        self.llm_misconfigured_gauge = Gauge(
            "partnerbrief_llm_misconfigured",
            "1 while the LLM server refuses our key, model or URL",
            registry=r,
        )
        # The server's message while the LLM is misconfigured (wrong key, model or URL).
        self._llm_misconfigured: str | None = None
        self.subscribers = Gauge(
            "partnerbrief_subscribers", "Subscribers, by state", ["state"], registry=r
        )
        # Several replicas on PostgreSQL (bot/digests/fleet.py): the shared delivery queue.
        self.queue_depth = Gauge(
            "partnerbrief_digest_queue_depth",
            "Digests in the shared queue, by state (queued, claimed)",
            ["state"],
            registry=r,
        )
        self.claim_seconds = Histogram(
            "partnerbrief_digest_claim_seconds",
            "From a digest's enqueue (or its dead claimer's lease end) to its claim",
            registry=r,
            buckets=(0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
        )

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        metric = _EVENTS.get(name)
        if metric is not None:
            self._metrics[metric[0]].labels(metric[1]).inc(amount)

    def phrased(self, reason: str) -> None:
        """One question given to the LLM: "llm" when its answer was shown, else the reason."""
        self.add("llm" if reason == "llm" else "llm_fallback")
        self.llm_outcomes.labels(reason).inc()

    @property
    def llm_misconfigured(self) -> str | None:
        return self._llm_misconfigured

    @llm_misconfigured.setter
    def llm_misconfigured(self, problem: str | None) -> None:
        self._llm_misconfigured = problem
        self.llm_misconfigured_gauge.set(0 if problem is None else 1)

    def get(self, name: str) -> int:
        return self.counts[name]
