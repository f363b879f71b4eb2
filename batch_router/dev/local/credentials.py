"""The local Batch answers only requests signed with the key pair it made for this run.

moto's server listens on 127.0.0.1, which every user of the machine can reach; with moto's default (any
credentials accepted) another local user could submit jobs, which run as processes of the user who
started the server. So each run makes an IAM user with a fresh access key in moto's own IAM, prints
that key, and turns on moto's request authentication (signature and IAM policy checks, moto's
``INITIAL_NO_AUTH_ACTION_COUNT``), which is process-wide: ``release`` puts it back.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

__all__ = ["KeyPair", "issue", "release", "require_signed_requests"]

USER = "batch-router-local"
_EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_lock = threading.Lock()
_saved: dict[str, float] = {}


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str


def issue(account_id: str = DEFAULT_ACCOUNT_ID) -> KeyPair:
    """A new IAM user of this run, allowed everything on the local server, and its access key."""
    iam = iam_backends[account_id]["global"]
    iam.create_user("global", USER)
    iam.put_user_policy(USER, "everything-on-the-local-batch", _EVERYTHING)
    key = iam.create_access_key(USER)
    return KeyPair(key.access_key_id, key.secret_access_key)


def require_signed_requests() -> None:
    """From now on every request must be signed with a key moto's IAM knows, and be allowed."""
    with _lock:
        if not _saved:
            _saved["limit"] = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
            _saved["count"] = ActionAuthenticatorMixin.request_count
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


def release() -> None:
    """moto's default again (no authentication), for whatever uses moto in this process next."""
    with _lock:
        if _saved:
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = _saved.pop("limit")
            ActionAuthenticatorMixin.request_count = int(_saved.pop("count"))
