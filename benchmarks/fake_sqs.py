"""moto's SQS, changed only where the job events benchmark needs it: a receive that does not scan the
queue once per message it returns.

moto checks each message it is about to return against the queue's retention period, and each message it
is sent for content-based deduplication, by computing every queue attribute, the approximate counts among
them: a scan of every message with two clock reads each. With 1,000 messages in the queue one
ReceiveMessage took about a second and one SendMessage 20 ms, so the fake API, not the executor, set how
fast events could be read (about 15 a second). SQS answers in tens of milliseconds whatever the queue
holds. Here the same answers read the clock once per call. Patched only in the fake API's own process.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.sqs import models


def _retained(self: models.SQSBackend, queue_name: str, message: models.Message) -> bool:
    period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return bool(period + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]


def _visible_messages(self: Any) -> list[models.Message]:
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _not_visible(self: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _delayed(self: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _visible_count(self: Any) -> int:
    return len(_visible_messages(self))


def install() -> None:
    models.SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    models.Queue.messages = property(_visible_messages)  # type: ignore[assignment]
    models.Queue.approximate_number_of_messages = property(_visible_count)  # type: ignore[assignment]
    models.Queue.approximate_number_of_messages_not_visible = property(_not_visible)  # type: ignore[assignment]
    models.Queue.approximate_number_of_messages_delayed = property(_delayed)  # type: ignore[assignment]
