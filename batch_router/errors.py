"""Errors as values: every problem carries where it is, what is wrong and how to fix it.

Platform engineers read these at 3 a.m. in a scheduler log or a task log, so each message names the
source (a file, an environment variable, a task's exec_config), the JSON path inside it and a hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, at one JSON path (``routes[2].compute``; ``""`` for the root)."""

    path: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = self.path or "(root)"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class BatchRouterError(Exception):
    """Base of every error batch-router raises on purpose."""


class ProblemsError(BatchRouterError):
    """An input failed validation; ``problems`` lists every reason, not just the first."""

    kind = "input"

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [f"invalid {self.kind} in {self.source}:"]
        lines += [f"  {p.render()}" for p in self.problems]
        return "\n".join(lines)

    def lines(self) -> list[str]:
        """``path: message`` lines, as printed by ``batch-router validate``."""
        return [p.render() for p in self.problems]


class ConfigError(ProblemsError):
    """Executor settings or a route table are wrong: start-up must stop."""

    kind = "configuration"


class ExecConfigError(ProblemsError):
    """One task's ``executor_config`` is wrong: that task fails, nothing else does."""

    kind = "executor_config"


@dataclass(frozen=True)
class PassedOver:
    """Why the router did not pick one route."""

    route: str
    reason: str


class RoutingError(BatchRouterError):
    """No route can take the task; lists every route and why it was passed over."""

    def __init__(self, message: str, passed_over: Iterable[PassedOver] = ()):
        self.message = message
        self.passed_over: tuple[PassedOver, ...] = tuple(passed_over)
        text = message
        if self.passed_over:
            text += "\n" + "\n".join(f"  - {p.route}: {p.reason}" for p in self.passed_over)
        super().__init__(text)
