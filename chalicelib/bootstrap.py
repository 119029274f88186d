"""Wires the control plane once per container (Lambda) or process (chalice local).

Everything is built lazily on first use; tests call ``configure`` to pass their own
settings, application or clock instead of patching module globals.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable

from .config import Settings

_lock = threading.Lock()
_settings: Settings | None = None
_application = None
_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


def configure(*, settings: Settings | None = None, application=None,
              clock: Callable[[], datetime] | None = None) -> None:
    """Use these parts instead of building them from the environment."""
    global _settings, _application, _clock
    with _lock:
        if settings is not None:
            _settings = settings
        if application is not None:
            _application = application
        if clock is not None:
            _clock = clock


def reset() -> None:
    """Forget what was built, so the next call builds afresh from the environment."""
    global _settings, _application, _clock
    with _lock:
        _settings, _application = None, None
        _clock = lambda: datetime.now(timezone.utc)  # noqa: E731


def settings() -> Settings:
    global _settings
    if _settings is None:
        with _lock:
            if _settings is None:
                _settings = Settings.from_env()
    return _settings


def application():
    """The ``RoomsApplication`` of this container, on the store the environment names."""
    global _application
    if _application is None:
        store_env = settings().store_env
        with _lock:
            if _application is None:
                _application = build_application(store_env)
    return _application


def build_application(store_env):
    from .application import RoomsApplication
    return RoomsApplication(env=dict(store_env))


def now() -> datetime:
    return _clock()
