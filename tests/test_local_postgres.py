"""`make test` finds the local PostgreSQL by itself (tools/local_postgres.sh), so a newcomer runs the
PostgreSQL half of the suite too, not only CI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "local_postgres.sh"


def test_the_script_names_a_local_postgresql_that_answers() -> None:
    found = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True)
    # This machine and CI's run PostgreSQL on 127.0.0.1:5432 (the script starts it if it has stopped).
    assert found.stdout.strip() == "postgresql+psycopg://postgres@127.0.0.1:5432/test", found.stderr
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=5) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
