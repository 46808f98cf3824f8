#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 and print its SQLAlchemy URL on stdout.
# Usage: URL=$(scripts/pg_throwaway.sh start DIR PORT); ...; scripts/pg_throwaway.sh stop DIR
#        scripts/pg_throwaway.sh restart DIR   (fast shutdown, same options: for fault tests)
set -euo pipefail
ACTION="$1"; DIR="$2"; PORT="${3:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$BIN" ]; then echo "PostgreSQL server binaries not found; run scripts/system_deps.sh" >&2; exit 1; fi
RUN=()
if [ "$(id -u)" -eq 0 ]; then RUN=(runuser -u postgres --); fi
case "$ACTION" in
start)
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR"; fi
    "${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U kb --auth=trust >"$DIR/initdb.log" 2>&1
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
        -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c full_page_writes=off" start >&2
    "${RUN[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U kb kb_test >&2
    echo "postgresql+psycopg://kb@127.0.0.1:$PORT/kb_test"
    ;;
restart)
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -m fast restart >&2
    ;;
stop)
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
