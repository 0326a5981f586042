"""The lifecycle every instrumentor shares: install now if the application has imported the package,
else from a wrapt post-import hook when it does; never import the package here."""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Collection
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from agentops_otel.instrumentation._settings import Settings, make_settings


class LazyInstrumentor(BaseInstrumentor):
    """Base of the library and framework instrumentors; subclasses install in :meth:`_on_import`."""

    package: ClassVar[str]  # the import name whose import installs the instrumentation
    requirement: ClassVar[str]  # the supported versions, the same as the package's extra

    # BaseInstrumentor is a singleton whose __init__ runs on every construction: state lives here.
    _settings: Settings | None = None
    _hook_registered: bool = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.requirement,)

    def _instrument(self, **kwargs: Any) -> None:
        settings = kwargs.get("settings")
        if not isinstance(settings, Settings):
            settings = make_settings(kwargs.get("tracer_provider"), kwargs.get("config"))
        self._settings = settings
        module = sys.modules.get(self.package)
        if module is not None:
            self._on_import(module)
        elif not self._hook_registered:
            type(self)._hook_registered = True
            wrapt.register_post_import_hook(self._on_import, self.package)

    def configure(self, settings: Settings) -> None:
        """Change tracer or switches while instrumented (``init()`` called again)."""
        self._settings = settings

    @abstractmethod
    def _on_import(self, module: ModuleType) -> None:
        """Install into the imported package (nothing when uninstrumented or already installed)."""
