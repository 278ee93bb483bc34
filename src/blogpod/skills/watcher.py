"""Follow the skills source and resync on change.

A mounted ConfigMap is updated by the kubelet through an atomic swap of the hidden
``..data`` symlink in the mount folder, not by writing the visible files, so the watcher
watches the source folder itself and treats any event there as "rescan everything". Events
are debounced (a swap is a burst of events). A periodic full resync is the safety net for
anything a watch can miss (the folder replaced, inotify limits, network filesystems).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from blogpod.skills.model import SkillError

log = logging.getLogger(__name__)

#: Events are grouped until the source is quiet for STEP_MS (at most DEBOUNCE_MS), so a
#: change is published well within a second.
DEBOUNCE_MS = 400
STEP_MS = 50
RETRY_SECONDS = 1.0
#: The watch wakes up this often without events, to notice a replaced source folder.
IDLE_MS = 1000


class SourceWatcher:
    """Two daemon threads: one reacting to filesystem events, one resyncing periodically."""

    def __init__(
        self, source_dir: Path, on_change: Callable[[str], object], resync_interval: float
    ) -> None:
        self.source_dir = source_dir
        self.on_change = on_change
        self.resync_interval = resync_interval
        self.errors = 0
        #: Set once the filesystem watch is in place (changes from then on are seen).
        self.watching = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._watch_loop, name="skills-watch", daemon=True),
            threading.Thread(target=self._resync_loop, name="skills-resync", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _trigger(self, reason: str) -> None:
        try:
            self.on_change(reason)
        except SkillError as exc:  # expected trouble (source missing): no traceback
            self.errors += 1
            log.error("skill resync failed: %s", exc, extra={"reason": reason})
        except Exception:
            self.errors += 1
            log.exception("skill resync failed", extra={"reason": reason})

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.resync_interval):
            self._trigger("resync")

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            identity = _identity(self.source_dir)
            if identity is None:
                self._stop.wait(RETRY_SECONDS)  # not there (yet): the resync loop reports it
                continue
            try:
                self._watch_once(identity)
            except Exception:
                self.errors += 1
                log.exception("skill watcher failed; restarting it")
                self._stop.wait(RETRY_SECONDS)

    def _watch_once(self, identity: tuple[int, int]) -> None:
        for changes in watchfiles.watch(
            self.source_dir,
            watch_filter=None,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            recursive=True,
            raise_interrupt=False,
            rust_timeout=IDLE_MS,
            yield_on_timeout=True,
        ):
            self.watching.set()
            if changes:
                log.debug("source changed", extra={"events": len(changes)})
                self._trigger("watch")
            if _identity(self.source_dir) != identity:
                self.watching.clear()
                self._trigger("replaced")
                return  # the folder itself was replaced: watch the new one


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
