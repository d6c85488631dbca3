#!/usr/bin/env bash
# The local stack without Docker: a real Apache Kafka broker (KRaft, jars from Maven
# Central) and a real MongoDB wire-protocol server (FerretDB v1, built with the Go
# toolchain; a `mongod` on PATH wins when present).
#
# FerretDB's backend: PARLEY_MONGO_BACKEND=postgresql (the default, the faster one as
# measured: see the README) or sqlite. postgresql runs a private PostgreSQL cluster
# (Debian's package, installed with apt-get when absent and the script runs as root)
# under $RUN/postgres, its log included, reachable only through a unix socket in that
# directory (trust auth), the socket named after PARLEY_POSTGRES_PORT (default: the
# MongoDB port + 2000, so a private stack on other ports gets its own). When
# PostgreSQL cannot be had, the script says so and falls back to sqlite.
#
#   stack.sh up      install what is missing, start, wait for health, create topics
#   stack.sh down    stop what this script started
#   stack.sh env     print the export lines services and tests need
#   stack.sh status  say what runs
#   stack.sh stop kafka|mongo    stop one (the reliability suite's outages; mongo
#                                stops its PostgreSQL too)
#   stack.sh start kafka|mongo   start it again on its data
#
# KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI set in the environment mean "use that
# server": nothing is installed or started for it. Downloads are cached in .cache/,
# runtime state lives in .run/; both are git-ignored. Everything binds 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local"
CACHE="${PARLEY_CACHE_DIR:-$ROOT/.cache}"
RUN="${PARLEY_RUN_DIR:-$ROOT/.run}"
KAFKA_PORT="${PARLEY_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${PARLEY_KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${PARLEY_MONGO_PORT:-27017}"
MONGO_BACKEND="${PARLEY_MONGO_BACKEND:-postgresql}"
# Only names the socket (no TCP listener): any number works, kept within 1024..65535.
PG_PORT="${PARLEY_POSTGRES_PORT:-$(((MONGO_PORT + 2000 - 1024) % 64512 + 1024))}"
PG_USER="parley"
KAFKA_VERSION_STAMP="kafka-3.9.1"
FERRETDB_VERSION="v1.24.0"
# What `ferretdb --version` prints for the build with our patch: a binary built
# without it (an older cache) does not match and is rebuilt.
FERRETDB_BUILD="$FERRETDB_VERSION-parley.2"
# The project installs its own uv (make install); a uv on the PATH is never assumed.
UV="${UV:-$ROOT/.cache/uv/bin/uv}"

log() { printf '[stack] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() { # port name seconds
  local deadline=$((SECONDS + $3))
  until port_open "$1"; do
    if ((SECONDS > deadline)); then
      log "$2 did not open port $1 within $3 s; last log lines:"
      tail -n 30 "$RUN/$2.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# ---------------------------------------------------------------- Kafka (KRaft)
install_kafka() {
  local libs="$CACHE/kafka/libs"
  if [[ -f "$CACHE/kafka/$KAFKA_VERSION_STAMP.ok" ]]; then return; fi
  log "fetching Apache Kafka jars from Maven Central (once)…"
  rm -rf "$libs"
  mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime
  touch "$CACHE/kafka/$KAFKA_VERSION_STAMP.ok"
}

start_kafka() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    log "Kafka: using KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
    return
  fi
  if pid_alive kafka && port_open "$KAFKA_PORT"; then
    log "Kafka already running on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  if port_open "$KAFKA_PORT"; then
    log "port $KAFKA_PORT is taken by another process; set PARLEY_KAFKA_PORT or KAFKA_BOOTSTRAP_SERVERS"
    return 1
  fi
  install_kafka
  local data="$RUN/kafka-data" conf="$RUN/kafka-server.properties"
  mkdir -p "$data"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    -e "s#@DATA_DIR@#$data#g" "$HERE/kafka/server.properties.template" >"$conf"
  local cp="$CACHE/kafka/libs/*"
  local jvm=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$HERE/kafka/log4j.properties")
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool random-uuid)"
    java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" >/dev/null
  fi
  log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  nohup java -cp "$cp" "${jvm[@]}" kafka.Kafka "$conf" >"$RUN/kafka.log" 2>&1 &
  echo $! >"$RUN/kafka.pid"
  wait_for_port "$KAFKA_PORT" kafka 120
}

# ---------------------------------------------------------------- MongoDB wire server
install_ferretdb() {
  local bin="$CACHE/bin/ferretdb"
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -qF "$FERRETDB_BUILD"; then return; fi
  log "building FerretDB $FERRETDB_BUILD with the Go toolchain (once)…"
  local build="$CACHE/ferretdb-build"
  rm -rf "$build" && mkdir -p "$build" "$CACHE/bin"
  cp "$HERE/ferretdb/go.mod" "$HERE/ferretdb/go.sum" "$HERE/ferretdb/tools.go" "$build/"
  # FerretDB reads its own version from an embedded file that its release tooling
  # generates; a module download leaves it empty, so vendor and write it, as its
  # build/version docs describe.
  (cd "$build" && GOFLAGS=-mod=mod go mod vendor)
  local src="$build/vendor/github.com/FerretDB/FerretDB"
  # FerretDB v1 updates, findAndModifies and deletes a document by reading it, then
  # writing it whole in a separate statement: concurrent writers of one document lose
  # each other's fields (measured: 300 + 300 concurrent $push kept 168 + 173), and a
  # conditional write can act on a document that no longer matches. MongoDB makes
  # each atomic, and Parley relies on it (the gateway's workflow fields and the
  # normalizer's synced fields share a discussion; claims are conditional updates).
  # The patch holds a per-collection lock from the read to the write.
  patch -p1 --forward --quiet -d "$src" <"$HERE/ferretdb/atomic-writes.patch"
  echo "$FERRETDB_BUILD" >"$src/build/version/version.txt"
  (cd "$build" && GOBIN="$CACHE/bin" go install -mod=vendor github.com/FerretDB/FerretDB/cmd/ferretdb)
}

# ---------------------------------------------------------------- PostgreSQL (FerretDB's backend)
# PostgreSQL refuses to run as root: as root, the cluster runs as Debian's `postgres`
# user, in a directory that user can reach.
as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bindir() {
  local dir
  if [[ -n "${PARLEY_POSTGRES_BIN:-}" ]]; then echo "$PARLEY_POSTGRES_BIN"; return; fi
  # Debian's layout, newest major version first; then whatever the PATH has.
  while read -r dir; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then echo "$dir"; return; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  return 1
}

install_postgres() {
  if pg_bindir >/dev/null; then return; fi
  if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
    log "PostgreSQL server binaries not found (initdb, pg_ctl); installing needs root and apt-get"
    return 1
  fi
  log "installing Debian's postgresql package (once)…"
  # Only the binaries: no system-wide cluster is created or started.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/parley.conf
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -y -q -o Dpkg::Options::=--force-confold install --no-install-recommends postgresql)
  if ! "${apt[@]}" </dev/null >"$RUN/postgres-install.log" 2>&1; then
    apt-get -q update </dev/null >>"$RUN/postgres-install.log" 2>&1 || true
    if ! "${apt[@]}" </dev/null >>"$RUN/postgres-install.log" 2>&1; then
      log "apt-get could not install postgresql; see $RUN/postgres-install.log"
      return 1
    fi
  fi
  pg_bindir >/dev/null
}

# The cluster's directory (its unix socket lives in it too). $RUN/postgres unless the
# `postgres` user cannot reach $RUN (root running in a private home directory) or the
# socket's path would be too long for a unix socket; then a directory under /var/tmp
# named after $RUN, linked from $RUN/postgres.
pg_dir() {
  local dir="$RUN/postgres"
  if [[ -L "$dir" ]]; then readlink "$dir"; return; fi
  if ((${#dir} + 20 > 100)) || { ((EUID == 0)) && ! runuser -u postgres -- test -x "$RUN"; }; then
    dir="/var/tmp/parley-postgres-$(printf '%s' "$RUN" | cksum | cut -d' ' -f1)"
    mkdir -p "$dir"
    ln -sfn "$dir" "$RUN/postgres"
  fi
  echo "$dir"
}

postgres_url() {
  echo "postgres://$PG_USER@/postgres?host=$(pg_dir)&port=$PG_PORT&pool_max_conns=250"
}

pg_running() {
  local bin dir
  bin="$(pg_bindir 2>/dev/null)" || return 1
  dir="$(pg_dir)"
  [[ -f "$dir/PG_VERSION" ]] && as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

start_postgres() {
  if ((EUID == 0)) && ! id postgres >/dev/null 2>&1 && pg_bindir >/dev/null; then
    log "running as root, but there is no 'postgres' user to run PostgreSQL as"
    return 1
  fi
  install_postgres || return 1
  local bin dir
  bin="$(pg_bindir)"
  dir="$(pg_dir)"
  if pg_running; then
    log "PostgreSQL already running in $dir"
    return
  fi
  mkdir -p "$dir"
  if ((EUID == 0)); then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    log "creating a PostgreSQL cluster in $dir"
    # Trust: initdb's pg_hba.conf lists only the local socket and loopback addresses,
    # and the server listens on the socket only (in a 0700 directory).
    as_pg "$bin/initdb" -D "$dir" -U "$PG_USER" --auth=trust --encoding=UTF8 --locale=C \
      --no-sync >"$RUN/postgres-initdb.log" 2>&1
    cat >>"$dir/postgresql.conf" <<'EOF'
# parley (deploy/local/stack.sh): a development server, socket only
listen_addresses = ''
synchronous_commit = off
shared_buffers = 256MB
work_mem = 16MB
EOF
  fi
  pg_settings "$dir"
  log "starting PostgreSQL $("$bin/postgres" --version | awk '{print $3}') (socket $dir/.s.PGSQL.$PG_PORT)"
  # Its log stays in the cluster's directory: the only one the server may write to.
  if ! as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k '$dir'" start >/dev/null; then
    log "PostgreSQL did not start; last log lines:"
    tail -n 30 "$RUN/postgres-initdb.log" "$dir/postgres.log" >&2 || true
    return 1
  fi
  head -n 1 "$dir/postmaster.pid" >"$RUN/postgres.pid"
  pg_id_indexes "$bin" "$dir"
}

# Settings FerretDB needs to be fast, rewritten at every start (a cluster made by an
# earlier version of this script gets them too).
pg_settings() {
  local dir="$1"
  grep -q "^include_if_exists = 'parley.conf'" "$dir/postgresql.conf" ||
    echo "include_if_exists = 'parley.conf'" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
  as_pg tee "$dir/parley.conf" >/dev/null <<'CONF'
# Written by deploy/local/stack.sh at each start.
# FerretDB prepares each statement with the field name as a parameter
# (`_jsonb->$1 @> $2`); a generic plan for that can use no index, so every lookup by
# _id read the whole table (80 ms at 100k documents instead of 0.1 ms). Custom plans
# see the field name and use the _id index (pg_id_indexes).
plan_cache_mode = force_custom_plan
# FerretDB holds one connection per statement of a command until the command ends
# (a bulk update of N existing documents holds N): its pool (pool_max_conns in the
# URL) must exceed the biggest bulk times the concurrent writers, or it waits forever.
max_connections = 300
CONF
}

# FerretDB v1 writes an equality filter on _id as `_jsonb->'_id' @> value`, which its
# own btree index on `_jsonb->'_id'` cannot serve; a GIN index on the same expression
# can. An event trigger adds one to every collection table FerretDB creates, and the
# last statement to the tables already there. Idempotent.
pg_id_indexes() {
  local bin="$1" dir="$2"
  if ! as_pg "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir" -p "$PG_PORT" -U "$PG_USER" \
    -d postgres >"$RUN/postgres-setup.log" 2>&1 <<'SQL'; then
CREATE OR REPLACE FUNCTION parley_id_index(tbl regclass) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = tbl AND attname = '_jsonb' AND NOT attisdropped)
     AND tbl::text NOT LIKE '%ferretdb_database_metadata%'
     AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                     WHERE i.indrelid = tbl AND c.relname LIKE '%parley_id_gin') THEN
    EXECUTE format('CREATE INDEX %I ON %s USING gin ((_jsonb->''_id'') jsonb_path_ops)',
                   left(md5(tbl::text), 16) || '_parley_id_gin', tbl);
  END IF;
END $fn$;

CREATE OR REPLACE FUNCTION parley_id_index_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM parley_id_index(created.objid::regclass);
  END LOOP;
END $fn$;

DROP EVENT TRIGGER IF EXISTS parley_id_index;
CREATE EVENT TRIGGER parley_id_index ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION parley_id_index_on_create();

SELECT parley_id_index(c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
   AND n.nspname NOT LIKE 'pg\_%';
SQL
    log "could not add FerretDB's _id indexes (lookups stay slow); see $RUN/postgres-setup.log"
  fi
}

stop_postgres() {
  local bin dir
  rm -f "$RUN/postgres.pid"
  bin="$(pg_bindir 2>/dev/null)" || return 0
  [[ -e "$RUN/postgres" ]] || return 0
  dir="$(pg_dir)"
  if pg_running; then
    log "stopping PostgreSQL ($dir)"
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null || true
  fi
}

start_mongo() {
  if [[ -n "${MONGODB_URI:-}" ]]; then
    log "MongoDB: using MONGODB_URI from the environment"
    return
  fi
  if pid_alive mongo && port_open "$MONGO_PORT"; then
    local running
    running="$(cat "$RUN/mongo.backend" 2>/dev/null || echo sqlite)"
    log "MongoDB-compatible server already running on 127.0.0.1:$MONGO_PORT ($running)"
    if [[ "$running" != mongod && "$running" != "$MONGO_BACKEND" ]]; then
      log "  (PARLEY_MONGO_BACKEND=$MONGO_BACKEND applies after \`make stack-down\`)"
    fi
    return
  fi
  if port_open "$MONGO_PORT"; then
    log "port $MONGO_PORT is taken by another process; set PARLEY_MONGO_PORT or MONGODB_URI"
    return 1
  fi
  mkdir -p "$RUN/mongo-data"
  if command -v mongod >/dev/null 2>&1; then
    log "starting mongod on 127.0.0.1:$MONGO_PORT"
    nohup mongod --bind_ip 127.0.0.1 --port "$MONGO_PORT" --dbpath "$RUN/mongo-data" \
      >"$RUN/mongo.log" 2>&1 &
    echo "mongod" >"$RUN/mongo.backend"
  else
    install_ferretdb
    local backend=(--handler=sqlite --sqlite-url="file:$RUN/mongo-data/") name="SQLite"
    case "$MONGO_BACKEND" in
      postgresql)
        if start_postgres; then
          backend=(--handler=postgresql --postgresql-url="$(postgres_url)") name="PostgreSQL"
        else
          log "PostgreSQL is not available: FerretDB falls back to its SQLite backend" \
            "(slower; see the README). Install Debian's postgresql package, or run as root."
        fi
        ;;
      sqlite) ;;
      *) log "PARLEY_MONGO_BACKEND must be postgresql or sqlite, not '$MONGO_BACKEND'"; return 2 ;;
    esac
    log "starting FerretDB ($name backend) on 127.0.0.1:$MONGO_PORT"
    # FerretDB v1 decodes every document a query matches (sorts and most filters run in
    # Go), so a list page is mostly garbage: collecting less often (GOGC=400, the heap
    # stays small) made such pages about 30% faster, measured on 2 cores.
    GOGC="${PARLEY_FERRETDB_GOGC:-400}" nohup "$CACHE/bin/ferretdb" "${backend[@]}" \
      --listen-addr="127.0.0.1:$MONGO_PORT" --debug-addr="127.0.0.1:$((MONGO_PORT + 1000))" \
      --state-dir="$RUN/mongo-data" --telemetry=disable \
      --log-level=warn >"$RUN/mongo.log" 2>&1 &
    echo "${backend[0]#--handler=}" >"$RUN/mongo.backend"
  fi
  echo $! >"$RUN/mongo.pid"
  wait_for_port "$MONGO_PORT" mongo 60
}

print_env() {
  echo "export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
  echo "export MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:$MONGO_PORT/}"
}

stop_one() {
  local name=$1
  if pid_alive "$name"; then
    local pid
    pid="$(cat "$RUN/$name.pid")"
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

case "${1:-up}" in
  up)
    mkdir -p "$CACHE" "$RUN"
    start_kafka
    start_mongo
    eval "$(print_env)"
    log "waiting for Kafka and MongoDB to answer, creating topics"
    (cd "$ROOT" && "$UV" run --frozen --all-packages python -m parley_platform.healthcheck \
      --kafka "$KAFKA_BOOTSTRAP_SERVERS" --mongo "$MONGODB_URI" --create-topics --timeout 120 \
      --topic-prefix "${KAFKA_TOPIC_PREFIX:-}")
    ;;
  down) stop_one kafka; stop_one mongo; stop_postgres ;;
  env) print_env ;;
  stop)
    case "${2:-}" in
      kafka) stop_one kafka ;;
      mongo) stop_one mongo; stop_postgres ;;
      *) echo "usage: $0 stop kafka|mongo" >&2; exit 2 ;;
    esac
    ;;
  start)
    mkdir -p "$CACHE" "$RUN"
    case "${2:-}" in
      kafka) start_kafka ;;
      mongo) start_mongo ;;
      *) echo "usage: $0 start kafka|mongo" >&2; exit 2 ;;
    esac
    ;;
  status)
    for n in kafka mongo postgres; do
      if pid_alive "$n"; then echo "$n: running (pid $(cat "$RUN/$n.pid"))"; else echo "$n: stopped"; fi
    done
    if pid_alive mongo; then echo "mongo backend: $(cat "$RUN/mongo.backend" 2>/dev/null || echo sqlite)"; fi
    ;;
  psql)
    # A SQL shell on FerretDB's PostgreSQL (each MongoDB database is a schema there).
    pg_running || { echo "PostgreSQL is not running" >&2; exit 1; }
    shift
    as_pg "$(pg_bindir)/psql" -X -h "$(pg_dir)" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
    ;;
  *) echo "usage: $0 up|down|env|status|stop NAME|start NAME|psql [ARGS]" >&2; exit 2 ;;
esac
