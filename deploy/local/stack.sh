#!/usr/bin/env bash
# The local stack without Docker: a real Apache Kafka broker (KRaft, jars from Maven
# Central) and a real MongoDB wire-protocol server (FerretDB v1 on SQLite, built with
# the Go toolchain; a `mongod` on PATH wins when present).
#
#   stack.sh up      install what is missing, start, wait for health, create topics
#   stack.sh down    stop what this script started
#   stack.sh env     print the export lines services and tests need
#   stack.sh status  say what runs
#   stack.sh stop kafka|mongo    stop one (the reliability suite's outages)
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
KAFKA_VERSION_STAMP="kafka-3.9.1"
FERRETDB_VERSION="v1.24.0"
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
  if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$FERRETDB_VERSION"; then return; fi
  log "building FerretDB $FERRETDB_VERSION with the Go toolchain (once)…"
  local build="$CACHE/ferretdb-build"
  rm -rf "$build" && mkdir -p "$build" "$CACHE/bin"
  cp "$HERE/ferretdb/go.mod" "$HERE/ferretdb/go.sum" "$HERE/ferretdb/tools.go" "$build/"
  # FerretDB reads its own version from an embedded file that its release tooling
  # generates; a module download leaves it empty, so vendor and write it, as its
  # build/version docs describe.
  (cd "$build" && GOFLAGS=-mod=mod go mod vendor)
  echo "$FERRETDB_VERSION" >"$build/vendor/github.com/FerretDB/FerretDB/build/version/version.txt"
  (cd "$build" && GOBIN="$CACHE/bin" go install -mod=vendor github.com/FerretDB/FerretDB/cmd/ferretdb)
}

start_mongo() {
  if [[ -n "${MONGODB_URI:-}" ]]; then
    log "MongoDB: using MONGODB_URI from the environment"
    return
  fi
  if pid_alive mongo && port_open "$MONGO_PORT"; then
    log "MongoDB-compatible server already running on 127.0.0.1:$MONGO_PORT"
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
  else
    install_ferretdb
    log "starting FerretDB (SQLite backend) on 127.0.0.1:$MONGO_PORT"
    nohup "$CACHE/bin/ferretdb" --handler=sqlite --sqlite-url="file:$RUN/mongo-data/" \
      --listen-addr="127.0.0.1:$MONGO_PORT" --debug-addr="127.0.0.1:$((MONGO_PORT + 1000))" \
      --state-dir="$RUN/mongo-data" --telemetry=disable \
      --log-level=warn >"$RUN/mongo.log" 2>&1 &
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
  down) stop_one kafka; stop_one mongo ;;
  env) print_env ;;
  stop)
    case "${2:-}" in
      kafka | mongo) stop_one "$2" ;;
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
    for n in kafka mongo; do
      if pid_alive "$n"; then echo "$n: running (pid $(cat "$RUN/$n.pid"))"; else echo "$n: stopped"; fi
    done
    ;;
  *) echo "usage: $0 up|down|env|status|stop NAME|start NAME" >&2; exit 2 ;;
esac
