"""What batch-router reads of botocore beyond its public API, in one place.

Written against botocore 1.40-1.44 (``BOTOCORE_VERSION``); ``tests/compat/test_botocore_compat.py``
fails when a release moves any of it.

1. The validator's list of errors (``ValidationErrors._errors``): botocore reports a request's problems
   only as one text; each (reason, name, details) is read to give each problem its JSON path. Without
   it, the whole report is kept as one problem (``validation_errors`` returns None).

2. Response parsers without the reference cycle each one makes.

botocore makes a new response parser for every answer (``ResponseParserFactory.create_parser``), and
a parser made without a ``blob_parser`` keeps its own bound ``_default_blob_parser`` (``parsers.py``,
``ResponseParser.__init__``): the parser, that bound method and its event-stream parser are left in a
reference cycle, three objects for the cyclic collector after every call. At 20,000 tracked jobs the
executor makes about 60 calls a second, so a young collection ran every minute or so on a poll or
API thread, sweeping some 10,000 of these (8-13 ms of the GIL each, one of generation 1 34 ms; see
docs/performance.md). A botocore pull request against such per-request cycles (boto/botocore#1450)
was closed, and the cycle is still there in botocore 1.44; but the parser factory takes defaults
(``set_parser_defaults``, documented there for ``timestamp_parser`` and ``blob_parser``): given
botocore's own blob decoding as a plain function, no parser refers to itself. Answers are parsed
exactly as before.

The factory is reached through the client's endpoint, which botocore does not expose publicly; when a
botocore release moves it, nothing breaks (the cycles are merely back) and a test says so.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore import __version__ as BOTOCORE_VERSION

__all__ = ["BOTOCORE_VERSION", "validation_errors", "without_parser_cycles"]


def validation_errors(report: Any) -> list[tuple[str, Any, dict[str, Any]]] | None:
    """The (reason, name, details) of each error of a ``ValidationErrors`` report; None if this
    botocore keeps them elsewhere (the caller then uses ``generate_report()``)."""
    errors = getattr(report, "_errors", None)
    if not isinstance(errors, list):
        return None
    return [(str(reason), name, dict(details)) for reason, name, details in errors]


def _blob(value: Any) -> bytes:
    """botocore's ``ResponseParser._default_blob_parser``, as a function of its own."""
    return base64.b64decode(value)


def without_parser_cycles(client: Any) -> bool:
    """Give the client's parser factory a blob parser; False if this botocore has no such factory."""
    factory = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    set_defaults = getattr(factory, "set_parser_defaults", None)
    if not callable(set_defaults):
        return False
    set_defaults(blob_parser=_blob)
    return True
