"""What batch-router's threads need of a logger: the executor hands them its own (stdlib's logger or
Airflow's structlog one), so the parts say only what they call on it."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Log"]


class Log(Protocol):
    """What the parts need of the executor's logger (stdlib's or Airflow's structlog one)."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def error(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def exception(self, event: Any, *args: Any, **kw: Any) -> Any: ...
