"""Process exit hooks that end open sessions, chained to (never replacing) the existing ones.

- ``atexit``: ``on_exit()``.
- ``sys.excepthook``: ``on_exception(exc)``, then the previous hook (which prints the traceback).
- SIGINT / SIGTERM (main thread only): ``on_signal(signum, dying)``, then the previous handler,
  so Ctrl-C still raises KeyboardInterrupt. ``dying`` is True when the previous behaviour kills the
  process without running atexit (``SIG_DFL``), so the callback must flush itself. A signal that
  arrives while the callback runs (a second Ctrl-C) goes straight to the previous handler, so
  it never waits on us.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger("agentops_otel")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ExitHandlers:
    def __init__(
        self,
        on_exit: Callable[[], None],
        on_exception: Callable[[BaseException], None],
        on_signal: Callable[[int, bool], None],
    ) -> None:
        self._on_exit = on_exit
        self._on_exception = on_exception
        self._on_signal = on_signal
        self._previous_hook: Callable[..., Any] | None = None
        self._previous_signals: dict[int, Any] = {}
        self._in_signal = False
        self.installed = False

    def install(self) -> None:
        if self.installed:
            return
        self.installed = True
        atexit.register(self._atexit)
        self._previous_hook = sys.excepthook
        sys.excepthook = self._excepthook
        if threading.current_thread() is not threading.main_thread():
            logger.debug("agentops-otel: not in the main thread; signal handlers not installed")
            return
        for signum in SIGNALS:
            try:
                previous = signal.getsignal(signum)
                if previous is signal.SIG_IGN:
                    continue  # the application ignores it; so do we
                signal.signal(signum, self._signal_handler)
                self._previous_signals[signum] = previous
            except (ValueError, OSError) as error:
                logger.debug("agentops-otel: cannot handle signal %s: %s", signum, error)

    def uninstall(self) -> None:
        """Put back what was there, where nobody has replaced our hooks since."""
        if not self.installed:
            return
        self.installed = False
        atexit.unregister(self._atexit)
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook or sys.__excepthook__
        for signum, previous in self._previous_signals.items():
            try:
                if signal.getsignal(signum) == self._signal_handler:
                    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
        self._previous_signals.clear()

    # --- hooks ------------------------------------------------------------------------------
    def _atexit(self) -> None:
        try:
            self._on_exit()
        except Exception:
            logger.exception("agentops-otel: error while ending sessions at exit")

    def _excepthook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        try:
            self._on_exception(exc)
        except Exception:
            logger.exception("agentops-otel: error while ending sessions after an uncaught exception")
        previous = self._previous_hook or sys.__excepthook__
        previous(exc_type, exc, tb)

    def _signal_handler(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous_signals.get(signum, signal.SIG_DFL)
        dying = previous in (signal.SIG_DFL, None)
        if not self._in_signal:
            self._in_signal = True
            try:
                self._on_signal(signum, dying)
            except Exception:
                logger.exception("agentops-otel: error while ending sessions on signal %s", signum)
            finally:
                self._in_signal = False
        if callable(previous):
            previous(signum, frame)
        elif dying:
            # Die by the signal, exactly as without us.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
