#!/usr/bin/env bash
# The URL of the local PostgreSQL the test suite's PostgreSQL half runs against (127.0.0.1:5432, database
# `test`, trust auth), printed on stdout. A cluster that is installed but stopped is started first. When no
# server answers, nothing is printed and stderr says why: `make test` then runs the SQLite half only.
set -u
url="postgresql+psycopg://postgres@127.0.0.1:5432/test"
skipped="the PostgreSQL tests will be skipped (set SHIPYARD_TEST_POSTGRES_URL to run them elsewhere)"

if ! command -v pg_isready >/dev/null 2>&1; then
    echo "make test: PostgreSQL is not installed here; $skipped" >&2
    exit 0
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        echo "make test: starting the local PostgreSQL" >&2
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start >/dev/null 2>&1 || true
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 -p 5432 && break
            sleep 1
        done
    fi
fi
if pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "$url"
else
    echo "make test: no PostgreSQL answers on 127.0.0.1:5432; $skipped" >&2
fi
