#!/usr/bin/env bash
# A real PostgreSQL streaming replica of the local cluster, for the router tests.
#   scripts/replica.sh start DIR   -> base backup into DIR, standby on 127.0.0.1:${REPLICA_PORT:-5433}
#   scripts/replica.sh stop DIR    -> stop it and remove DIR
set -euo pipefail
action=$1
dir=$2
port=${REPLICA_PORT:-5433}
primary_host=127.0.0.1
primary_port=${PRIMARY_PORT:-5432}
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_primary() { psql -h "$primary_host" -p "$primary_port" -U postgres -tAqc "$1"; }

case "$action" in
start)
    # The primary must accept replication connections from loopback.
    hba=$(psql_primary "SHOW hba_file")
    if ! grep -qE '^host\s+replication\s+all\s+127\.0\.0\.1/32' "$hba"; then
        echo "host replication all 127.0.0.1/32 trust" >> "$hba"
        psql_primary "SELECT pg_reload_conf()" >/dev/null
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chown postgres "$dir" 2>/dev/null || true
    chmod 700 "$dir"
    as_postgres "$bindir/pg_basebackup" -h "$primary_host" -p "$primary_port" -U postgres -D "$dir/data" -R -X stream -c fast
    cat > "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
hot_standby = on
max_connections = 100
shared_buffers = 64MB
CONF
    echo "local all all trust
host all all 127.0.0.1/32 trust" > "$dir/data/pg_hba.conf"
    chown postgres "$dir/data/postgresql.conf" "$dir/data/pg_hba.conf" 2>/dev/null || true
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/replica.log" -w -t 60 start >/dev/null
    for _ in $(seq 1 60); do
        state=$(psql -h 127.0.0.1 -p "$port" -U postgres -tAqc "SELECT pg_is_in_recovery()" 2>/dev/null || true)
        [ "$state" = t ] && { echo "replica streaming on 127.0.0.1:$port"; exit 0; }
        sleep 0.5
    done
    echo "replica did not come up; log:" >&2
    cat "$dir/replica.log" >&2
    exit 1
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
