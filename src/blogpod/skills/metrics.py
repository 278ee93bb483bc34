"""Prometheus metrics of the skill server, read from the publisher's state at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from blogpod.skills.publisher import Publisher
from blogpod.skills.watcher import SourceWatcher


class SkillsCollector(Collector):
    """Computing values on scrape means no second copy of the state to keep in step."""

    def __init__(self, publisher: Publisher, watcher: SourceWatcher) -> None:
        self.publisher = publisher
        self.watcher = watcher

    def collect(self) -> Iterator[Metric]:
        stats = self.publisher.stats
        yield CounterMetricFamily(
            "blogpod_skills_publishes", "Snapshots published.", value=stats.publishes
        )
        yield CounterMetricFamily("blogpod_skills_syncs", "Source scans run.", value=stats.syncs)
        yield CounterMetricFamily(
            "blogpod_skills_sync_errors",
            "Scans that failed (source unreadable, disk errors).",
            value=stats.sync_errors,
        )
        yield CounterMetricFamily(
            "blogpod_skills_watcher_errors",
            "Errors of the watcher and periodic resync threads.",
            value=self.watcher.errors,
        )
        findings = GaugeMetricFamily(
            "blogpod_skills_findings",
            "Findings in the live snapshot, by severity.",
            labels=["severity"],
        )
        status = GaugeMetricFamily(
            "blogpod_skills", "Skills in the live snapshot, by status.", labels=["status"]
        )
        current = self.publisher.current
        counts = {"error": 0, "warning": 0}
        by_status = {"ok": 0, "stale": 0, "rejected": 0}
        if current is not None:
            catalog = current.catalog
            for f in [f for e in catalog.skills for f in e.findings] + list(catalog.rejected):
                counts[f.severity] += 1
            for entry in catalog.skills:
                by_status[entry.status] += 1
            by_status["rejected"] = len({f.skill for f in catalog.rejected})
            yield GaugeMetricFamily(
                "blogpod_skills_snapshot_age_seconds",
                "Seconds since the live snapshot was created.",
                value=max(0.0, time.time() - catalog.created_at.timestamp()),
            )
        for severity, n in counts.items():
            findings.add_metric([severity], n)
        for name, n in by_status.items():
            status.add_metric([name], n)
        yield findings
        yield status


def make_registry(publisher: Publisher, watcher: SourceWatcher) -> CollectorRegistry:
    """A registry per app, so several apps (tests) never share or clash over metrics."""
    registry = CollectorRegistry()
    registry.register(SkillsCollector(publisher, watcher))
    return registry
