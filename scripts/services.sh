#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for tests, plus installing the Debian packages we need.
#
#   scripts/services.sh install      # apt-get install postgresql redis-server chromium if missing
#   scripts/services.sh start DIR    # start PG + Redis on 127.0.0.1, state in DIR, writes DIR/env
#   scripts/services.sh stop DIR     # stop whatever `start DIR` started (tolerates already stopped)
#
# Layout inside DIR:
#   pg/data  pg/pg.log  pg_sock/          (owned by `postgres` when run as root)
#   redis/   redis.pid  redis.log  redis.port
#   env                                   (DATABASE_URL=..., REDIS_URL=...)
set -euo pipefail

PROG=${0##*/}
PG_PREFERRED_PORT=54329
REDIS_PREFERRED_PORT=63799
DB_NAME=marketplace

log() { echo "$PROG: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------- install

# Run a command as root: directly, via sudo, or fail clearly.
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (not root and no sudo)"
    fi
}

# Another apt/dpkg (e.g. unattended-upgrades, a parallel setup step) may hold
# the locks; wait up to 10 min rather than failing. fuser may be absent or not
# see root's processes when we are not root: then DPkg::Lock::Timeout still helps.
wait_for_apt_locks() {
    command -v fuser >/dev/null 2>&1 || return 0
    local i
    for i in $(seq 600); do
        if ! as_root fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock \
                /var/lib/apt/lists/lock >/dev/null 2>&1; then
            return 0
        fi
        [ "$i" -eq 1 ] && log "waiting for another apt/dpkg process to finish..."
        sleep 1
    done
    die "apt/dpkg lock still held after 10 minutes"
}

apt_get() {
    wait_for_apt_locks
    # sudo resets the environment, so pass DEBIAN_FRONTEND through env(1).
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 "$@"
}

have_postgres() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

cmd_install() {
    local missing=()
    have_postgres || missing+=(postgresql)
    { [ -x /usr/bin/redis-server ] && command -v redis-cli >/dev/null 2>&1; } \
        || missing+=(redis-server)
    { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; } \
        || missing+=(chromium)

    if [ "${#missing[@]}" -eq 0 ]; then
        log "postgresql, redis-server, chromium already installed"
        return 0
    fi
    log "installing: ${missing[*]}"
    apt_get update -q
    apt_get install -y -q --no-install-recommends "${missing[@]}"
    have_postgres || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

# ---------------------------------------------------------------- helpers for start/stop

# Highest installed PostgreSQL major version's bin dir.
pg_bindir() {
    local initdb
    initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1) \
        || true
    [ -n "$initdb" ] || die "PostgreSQL not installed (run: $PROG install)"
    dirname "$initdb"
}

# initdb/postgres refuse to run as root, so as root use the `postgres` system
# user. cd into DIR/pg first so the tools don't warn about an unreadable cwd.
as_pg() {
    if is_root; then
        (cd "$PG_BASE" && runuser -u postgres -- "$@")
    else
        (cd "$PG_BASE" && "$@")
    fi
}

# Is TCP port $1 free on 127.0.0.1? Prefer a real bind (same as the servers
# will do, with SO_REUSEADDR); without python3 fall back to a connect probe.
port_is_free() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
    else
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# Print the preferred port if free, else some other free port.
pick_port() {
    local p=$1
    if port_is_free "$p"; then echo "$p"; return; fi
    if command -v python3 >/dev/null 2>&1; then
        # Let the kernel choose (bind to port 0).
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
        return
    fi
    for p in $(seq $(($1 + 1)) $(($1 + 200))); do
        if port_is_free "$p"; then echo "$p"; return; fi
    done
    die "no free port found near $1"
}

# Show the end of a log file to explain a failure.
show_log() {
    if [ -f "$1" ]; then
        log "---- last lines of $1 ----"
        tail -n 30 "$1" >&2 || true
    fi
}

# PID from a pidfile, only if that process is alive.
alive_pid() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(head -n 1 "$1" 2>/dev/null | tr -dc '0-9')
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

set_dirs() {
    [ -n "${1:-}" ] || die "usage: $PROG $CMD DIR"
    [ -d "$1" ] || die "directory does not exist: $1"
    DIR=$(cd "$1" && pwd -P)   # absolute: used in sockets/pidfiles
    PG_BASE=$DIR/pg
    PG_DATA=$PG_BASE/data
    PG_LOG=$PG_BASE/pg.log
    PG_SOCK=$DIR/pg_sock
    REDIS_DIR=$DIR/redis
    REDIS_PID=$DIR/redis.pid
    REDIS_LOG=$DIR/redis.log
    REDIS_PORT_FILE=$DIR/redis.port
}

# ---------------------------------------------------------------- start

start_postgres() {
    local bin port
    bin=$(pg_bindir)

    mkdir -p "$PG_BASE" "$PG_SOCK"
    if is_root; then
        # postgres must be able to reach DIR (mktemp -d makes it 0700 root).
        chmod a+x "$DIR"
        chown -R postgres: "$PG_BASE" "$PG_SOCK"
        runuser -u postgres -- test -w "$PG_BASE" \
            || die "user postgres cannot access $PG_BASE (is a parent of $DIR not traversable?)"
    fi

    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        # -U postgres: superuser named postgres even when run as a normal user.
        as_pg "$bin/initdb" -D "$PG_DATA" -U postgres -A trust \
            -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
            || { show_log "$DIR/initdb.log"; die "initdb failed"; }
    fi

    port=$(pick_port "$PG_PREFERRED_PORT")

    # Only the postgres role, only via the socket and loopback.
    as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
local all postgres              trust
host  all postgres 127.0.0.1/32 trust
EOF
    # Settings go in the config file (last value wins) rather than
    # `pg_ctl -o "-c ..."`, so paths with odd characters need no shell quoting.
    # fsync & co. off: throwaway data, much faster tests.
    as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# ---- added by $PROG start ----
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # -w -t 30: pg_ctl itself waits until the server accepts connections.
    if ! as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start >/dev/null; then
        show_log "$PG_LOG"
        die "PostgreSQL failed to start on 127.0.0.1:$port"
    fi
    local i
    for i in $(seq 30); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && break
        [ "$i" -eq 30 ] && { show_log "$PG_LOG"; die "PostgreSQL not ready on 127.0.0.1:$port after 30s"; }
        sleep 1
    done

    # Create the app database unless a previous start in this DIR already did.
    local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
    if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER postgres" \
            || { show_log "$PG_LOG"; die "could not create database $DB_NAME"; }
    fi
    PG_PORT=$port
}

start_redis() {
    local port i
    command -v redis-server >/dev/null 2>&1 || die "redis-server not installed (run: $PROG install)"
    command -v redis-cli >/dev/null 2>&1 || die "redis-cli not installed (run: $PROG install)"
    mkdir -p "$REDIS_DIR"
    port=$(pick_port "$REDIS_PREFERRED_PORT")
    echo "$port" >"$REDIS_PORT_FILE"    # for `stop`
    rm -f "$REDIS_PID"

    # No persistence at all: --save '' and no AOF.
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
        --save '' --appendonly no --dir "$REDIS_DIR" \
        --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
        || { show_log "$REDIS_LOG"; die "redis-server failed to start on 127.0.0.1:$port"; }

    for i in $(seq 60); do
        [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
        [ "$i" -eq 60 ] && { show_log "$REDIS_LOG"; die "Redis not answering PING on 127.0.0.1:$port after 30s"; }
        sleep 0.5
    done
    REDIS_PORT=$port
}

cmd_start() {
    set_dirs "$@"
    # Refuse before installing the cleanup trap, so a mistaken second start
    # doesn't stop the services of the first one.
    if alive_pid "$PG_DATA/postmaster.pid" >/dev/null || alive_pid "$REDIS_PID" >/dev/null; then
        die "services already running from $DIR (run: $PROG stop $DIR)"
    fi
    # If anything below fails, don't leave half the services running.
    trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed, cleaning up"; stop_all || true; fi' EXIT

    start_postgres
    start_redis

    cat >"$DIR/env" <<EOF
DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
EOF
    trap - EXIT
    echo "services: PostgreSQL on 127.0.0.1:$PG_PORT (db $DB_NAME), Redis on 127.0.0.1:$REDIS_PORT; env in $DIR/env"
}

# ---------------------------------------------------------------- stop

stop_redis() {
    local pid port i
    pid=$(alive_pid "$REDIS_PID") || { rm -f "$REDIS_PID"; return 0; }
    # Only touch it if it really is the redis we started: redis-server chdirs
    # into --dir, so its cwd must be DIR/redis (guards against reused PIDs).
    if [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" != "$REDIS_DIR" ]; then
        log "pid $pid in $REDIS_PID is not our redis; leaving it alone"
        return 0
    fi
    port=$(cat "$REDIS_PORT_FILE" 2>/dev/null || true)
    if [ -n "$port" ]; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        # Fall back to signals if `shutdown` didn't work.
        [ "$i" -eq 10 ] && kill -TERM "$pid" 2>/dev/null
        [ "$i" -eq 40 ] && kill -KILL "$pid" 2>/dev/null
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && { log "could not stop redis (pid $pid)"; return 1; }
    rm -f "$REDIS_PID"
}

stop_postgres() {
    [ -f "$PG_DATA/postmaster.pid" ] || return 0      # never started / already stopped
    alive_pid "$PG_DATA/postmaster.pid" >/dev/null || return 0
    local bin
    bin=$(pg_bindir)
    # pg_ctl only acts on the postmaster of this data directory.
    as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null \
        || { show_log "$PG_LOG"; log "could not stop PostgreSQL in $PG_DATA"; return 1; }
}

stop_all() {
    local rc=0
    stop_redis || rc=1
    stop_postgres || rc=1
    return $rc
}

cmd_stop() {
    set_dirs "$@"
    stop_all || die "some services in $DIR could not be stopped"
    echo "services: stopped PostgreSQL and Redis from $DIR"
}

# ---------------------------------------------------------------- main

CMD=${1:-}
case "$CMD" in
    install) cmd_install ;;
    start)   shift; cmd_start "$@" ;;
    stop)    shift; cmd_stop "$@" ;;
    *)       echo "usage: $PROG install | start DIR | stop DIR" >&2; exit 2 ;;
esac
