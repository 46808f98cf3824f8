#!/usr/bin/env bash
# Start a throw-away S3 server on 127.0.0.1: Ceph's RADOS Gateway (a real S3 implementation, from
# Debian's radosgw, ceph-mon and ceph-osd) over a one-node cluster whose OSD keeps objects in memory.
# Prints "ENDPOINT ACCESS_KEY SECRET_KEY" on stdout; the bucket is the caller's to create.
# Usage: read -r S3_URL S3_KEY S3_SECRET < <(scripts/s3_throwaway.sh start DIR PORT); ...
#        scripts/s3_throwaway.sh stop DIR
# The monitor listens on PORT+1. Objects do not survive a restart (memstore): this is for tests.
set -euo pipefail
ACTION="$1"; DIR="$2"; PORT="${3:-57480}"
ACCESS_KEY="kbtest"; SECRET_KEY="kbtestsecret"
for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$tool" >/dev/null || { echo "$tool not found; install ceph-mon ceph-osd radosgw" >&2; exit 1; }
done
case "$ACTION" in
start)
    mkdir -p "$DIR"/{mon,osd,run,log}
    DIR="$(cd "$DIR" && pwd)"
    CONF="$DIR/ceph.conf"
    FSID="$(cat /proc/sys/kernel/random/uuid)"
    cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$((PORT + 1))
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
mon allow pool size one = true
mon warn on pool no redundancy = false
# A test box may be short of disk: never let the monitor stop on that.
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
osd data = $DIR/osd
mon data = $DIR/mon
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
EOF
    monmaptool --create --add a "v1:127.0.0.1:$((PORT + 1))" --fsid "$FSID" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >&2
    ceph-mon -c "$CONF" -i a >&2
    OSD_ID="$(timeout 60 ceph -c "$CONF" osd create)"
    ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs >"$DIR/log/osd-mkfs.out" 2>&1
    ceph-osd -c "$CONF" -i "$OSD_ID" >"$DIR/log/osd-start.out" 2>&1
    mkdir -p "$DIR/rgw"
    radosgw -c "$CONF" -n client.rgw >&2
    for _ in $(seq 1 120); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break
        sleep 0.5
    done
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/" || { echo "radosgw did not answer; see $DIR/log" >&2; exit 1; }
    timeout 60 radosgw-admin -c "$CONF" user create --uid=kbtest --display-name=kbtest \
        --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
    echo "http://127.0.0.1:$PORT $ACCESS_KEY $SECRET_KEY"
    ;;
stop)
    for name in client.rgw osd.0 mon.a; do
        pidfile="$DIR/run/$name.pid"
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for name in client.rgw osd.0 mon.a; do
        pidfile="$DIR/run/$name.pid"
        for _ in $(seq 1 50); do
            [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break
            sleep 0.2
        done
        [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    done
    rm -rf "$DIR"
    ;;
esac
