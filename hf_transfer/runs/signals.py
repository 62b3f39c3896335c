"""Ctrl-C (SIGINT) and SIGTERM (what schedulers send) stop a run at the next step boundary.

The first signal only asks: the loop finishes the optimizer step under way (or its gradient
accumulation), saves a checkpoint there and stops, so `--resume` continues exactly. A second
signal stops at once (KeyboardInterrupt), without a checkpoint of the unfinished step.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Within `with StopRequest() as stop:`, `stop.name` is the first signal received ('' if none)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.name = ""
        self._previous = {}

    def _handle(self, number, frame) -> None:
        if self.name:  # the second one: stop now
            raise KeyboardInterrupt
        self.name = signal.Signals(number).name

    def __enter__(self) -> "StopRequest":
        if self.enabled:
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
