"""Errors as values: every problem carries where it is, what is wrong and how to fix it.

Platform engineers read these at 3 a.m. in a scheduler log or a task log, so each message names the
source (a file, an environment variable, a task's exec_config), the JSON path inside it and a hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Error texts are bounded, so a 1 MB bad key cannot become a 2 MB failure message in a task's event log.
MAX_TEXT = 300  # characters of one path, message or hint
# Text that comes from AWS (a job's statusReason, an error message) is cut to this before it reaches an
# event log, a task's failure info or the scheduler's log: a 5 MB reason would otherwise go through whole.
MAX_AWS_TEXT = 1024
MAX_LISTED = 20  # problems listed in one error; the rest are counted


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, at one JSON path (``routes[2].compute``; ``""`` for the root)."""

    path: str
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = shorten(self.path) or "(root)"
        text = f"{where}: {shorten(self.message)}"
        if self.hint:
            text += f" (hint: {shorten(self.hint)})"
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
        lines = [f"invalid {self.kind} in {shorten(self.source)}:"]
        lines += [f"  {line}" for line in self.lines()]
        return "\n".join(lines)

    def lines(self) -> list[str]:
        """``path: message`` lines, as printed by ``batch-router validate``; at most ``MAX_LISTED``."""
        lines = [p.render() for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"... and {len(self.problems) - MAX_LISTED} more problems")
        return lines


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
        text = shorten(message)
        listed = self.passed_over[:MAX_LISTED]
        if listed:
            text += "\n" + "\n".join(f"  - {shorten(p.route)}: {shorten(p.reason)}" for p in listed)
        if len(self.passed_over) > MAX_LISTED:
            text += f"\n  ... and {len(self.passed_over) - MAX_LISTED} more routes"
        super().__init__(text)
