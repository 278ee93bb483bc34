"""Prometheus metrics of the agent, in a registry of its own (no global state between apps)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs = Gauge("blogpod_jobs", "Jobs in the store by status.", ["status"], registry=r)
        self.jobs_finished = Counter(
            "blogpod_jobs_finished", "Jobs that reached a final status.", ["status"], registry=r
        )
        self.job_duration = Histogram(
            "blogpod_job_duration_seconds",
            "Time from start to final status of finished jobs.",
            ["status"],
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
            registry=r,
        )
        self.tokens = Counter(
            "blogpod_tokens", "Tokens used by finished turns.", ["direction"], registry=r
        )
        self.queue_depth = Gauge("blogpod_queue_depth", "Jobs waiting for a worker.", registry=r)
        self.active_sessions = Gauge(
            "blogpod_active_sessions", "Open Copilot sessions.", registry=r
        )
        self.provider_errors = Counter(
            "blogpod_provider_errors", "Failed turns by kind.", ["kind"], registry=r
        )
        self.cli_restarts = Gauge(
            "blogpod_copilot_cli_restarts", "Times the Copilot CLI was restarted.", registry=r
        )
        self.sse_streams = Gauge(
            "blogpod_sse_streams", "Open Server-Sent Events streams.", registry=r
        )
        self.asyncio_tasks = Gauge(
            "blogpod_asyncio_tasks",
            "Tasks alive in the agent's event loop (a leak shows as a rising floor).",
            registry=r,
        )

    def bind_live(
        self,
        sessions: Callable[[], float],
        restarts: Callable[[], float],
        queue: Callable[[], float],
        tasks: Callable[[], float],
    ) -> None:
        """Read these gauges from the live objects at scrape time."""
        self.asyncio_tasks.set_function(tasks)
        self.active_sessions.set_function(sessions)
        self.cli_restarts.set_function(restarts)
        self.queue_depth.set_function(queue)
