#!/usr/bin/env bash
# Private PostgreSQL and RabbitMQ instances for development, tests and CI on a machine without Docker.
#   eng/infra.sh up       install (Debian packages) when missing, start both on 127.0.0.1, wait until ready
#   eng/infra.sh down     stop both
#   eng/infra.sh status   say what runs
#   eng/infra.sh env      print the connection strings as shell exports (source it: eval "$(eng/infra.sh env)")
#   eng/infra.sh env --services
#                         the same, plus each service's database and broker connection as its own user (see below)
#   eng/infra.sh stop-postgres|start-postgres|stop-rabbitmq|start-rabbitmq
#                         stop or start one of them (fault tests run these on private instances made with MA_STATE_DIR and MA_*_PORT)
# Idempotent: a second `up` finds both running and returns at once. Nothing system-wide is started, nothing
# listens on a default port or on any interface but loopback.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MA_STATE_DIR:-$ROOT/.state}"
PG_PORT="${MA_PG_PORT:-54329}"
PG_USER="${MA_PG_USER:-alignment}"
PG_PASSWORD="${MA_PG_PASSWORD:-alignment-dev-pw}"
PG_DATABASES=(metricsdb annotationsdb alignmentdb)
RMQ_PORT="${MA_RMQ_PORT:-35672}"
RMQ_MGMT_PORT="${MA_RMQ_MGMT_PORT:-35673}"
RMQ_DIST_PORT="${MA_RMQ_DIST_PORT:-35674}"
RMQ_EPMD_PORT="${MA_RMQ_EPMD_PORT:-35675}"
RMQ_USER="${MA_RMQ_USER:-alignment}"
RMQ_PASSWORD="${MA_RMQ_PASSWORD:-alignment-dev-pw}"
RMQ_VHOST="${MA_RMQ_VHOST:-alignment}"
# Each service connects as a user of its own: a PostgreSQL role that owns its database and may connect to no other,
# and a RabbitMQ user without management rights that may read only its own queues (docs/security.md). The
# `alignment` users above stay the administrators that make databases and vhosts (tests, infrastructure).
SERVICES=(metrics annotations alignment audit-log)
svc_role() { printf '%s_svc' "${1//-/_}"; }
svc_password() { printf '%s-svc-dev-pw' "$1"; }
# Queues and exchanges a service may declare, publish to and consume (RabbitMQ permission regexes): its own endpoints,
# the contract exchanges, fault exchanges and its per-process bus endpoint.
svc_rmq_resources() {
  local shared='MetricAlignment\.Contracts:.*|MassTransit:.*|.*_bus_.*|amq\.default'
  case "$1" in
    metrics) echo "^(create-metric-(fork|version)(_error|_skipped)?|$shared)\$" ;;
    annotations) echo "^($shared)\$" ;;
    alignment) echo "^(alignment-run-.*|execute-alignment-run.*|MetricAlignment\.Alignment\..*|$shared)\$" ;;
    audit-log) echo "^(audit-log(_error|_skipped)?|$shared)\$" ;;
  esac
}

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_packages() {
  local missing=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
  log "installing ${missing[*]} from Debian's packages"
  # Without systemd, package install scripts would start system-wide servers on default ports: forbid that.
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [ -e "$policy" ] && had_policy=1 && cp "$policy" "$policy.ma-backup"
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  }
  if [ "$had_policy" -eq 1 ]; then mv "$policy.ma-backup" "$policy"; else rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
  # Some install scripts start a default-port server despite policy-rc.d on a few images: stop any such server.
  pkill -f '/var/lib/postgresql/.*/main' 2>/dev/null || true
  pkill -f 'rabbit@' 2>/dev/null || true
}

# PostgreSQL refuses to run as root; its files must live where the postgres user can reach them. A clone
# under /root is not traversable by that user, so the data then lives in /var/tmp, linked from the state folder.
pg_home() {
  if runuser -u postgres -- test -x "$STATE" 2>/dev/null; then echo "$STATE/postgres"; return; fi
  local key; key=$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)
  echo "/var/tmp/metric-alignment-$key/postgres"
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

pg_up() {
  local bin home data run; bin=$(pg_bin); home=$(pg_home); data="$home/data"; run="$home/run"
  if pg_ready; then ensure_pg_databases; ensure_service_roles; return 0; fi
  mkdir -p "$data" "$run"; chown -R postgres:postgres "$home"; chmod 700 "$data"
  [ "$home" = "$STATE/postgres" ] || ln -sfn "$home" "$STATE/postgres"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL in $data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 || { cat "$home/initdb.log" >&2; die "initdb failed"; }
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$home/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $run -c max_connections=300 -c shared_buffers=256MB -c fsync=on" start >/dev/null \
    || { tail -n 30 "$home/postgres.log" >&2; die "PostgreSQL did not start"; }
  ensure_pg_role
  ensure_pg_databases
  ensure_service_roles
}

# The role is created by the superuser through the instance's own socket, right after it starts.
ensure_pg_role() {
  local bin run; bin=$(pg_bin); run="$(pg_home)/run"
  local psql=(runuser -u postgres -- "$bin/psql" -h "$run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA -d postgres)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE ROLE \"$PG_USER\" LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
}

# Databases are made over TCP by the application role (CREATEDB), which also works when the instance on the port was
# started from another clone.
ensure_pg_databases() {
  local db
  for db in "${PG_DATABASES[@]}"; do
    PGPASSWORD="$PG_PASSWORD" "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qtA \
      -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || PGPASSWORD="$PG_PASSWORD" "$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qtA \
        -c "CREATE DATABASE \"$db\""
  done
}

# Through the superuser socket of the instance this state folder runs: the application role may not make roles.
ensure_service_roles() {
  local bin run svc role db; bin=$(pg_bin); run="$(pg_home)/run"
  [ -S "$run/.s.PGSQL.$PG_PORT" ] || { log "PostgreSQL on $PG_PORT is not this folder's instance: service roles left as they are"; return 0; }
  local psql=(runuser -u postgres -- "$bin/psql" -h "$run" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  for svc in metrics annotations alignment; do
    role=$(svc_role "$svc"); db="${svc}db"
    "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'" | grep -q 1 \
      || "${psql[@]}" -d postgres -c "CREATE ROLE \"$role\" LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$(svc_password "$svc")'"
    if [ "$("${psql[@]}" -d postgres -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")" != "$role" ]; then
      "${psql[@]}" -d postgres -c "ALTER DATABASE \"$db\" OWNER TO \"$role\"" \
        -c "REVOKE ALL ON DATABASE \"$db\" FROM PUBLIC" -c "GRANT CONNECT, TEMPORARY ON DATABASE \"$db\" TO \"$role\""
      # A database made before service roles existed holds the administrator's schemas and tables: hand them over.
      "${psql[@]}" -d "$db" -c "DO \$\$ DECLARE r record; BEGIN
        FOR r IN SELECT nspname FROM pg_namespace WHERE nspowner = '$PG_USER'::regrole LOOP
          EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, '$role'); END LOOP;
        FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c WHERE c.relowner = '$PG_USER'::regrole AND c.relkind IN ('r','p','v','m') LOOP
          EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.rel, '$role'); END LOOP;
        FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c WHERE c.relowner = '$PG_USER'::regrole AND c.relkind = 'S'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a','i')) LOOP
          EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.rel, '$role'); END LOOP;
        FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p WHERE p.proowner = '$PG_USER'::regrole LOOP
          EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, '$role'); END LOOP;
        FOR r IN SELECT t.oid::regtype AS typ FROM pg_type t WHERE t.typowner = '$PG_USER'::regrole AND t.typtype IN ('e','d') LOOP
          EXECUTE format('ALTER TYPE %s OWNER TO %I', r.typ, '$role'); END LOOP;
      END \$\$"
    fi
  done
}

pg_down() {
  local data; data="$(pg_home)/data"
  [ -f "$data/postmaster.pid" ] || return 0
  runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

rmq_env() {
  export HOME="$STATE/rabbitmq-home"
  export RABBITMQ_HOME=/usr/lib/rabbitmq
  export RABBITMQ_NODENAME="metric-alignment@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$RMQ_PORT"
  export RABBITMQ_DIST_PORT="$RMQ_DIST_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export ERL_EPMD_PORT="$RMQ_EPMD_PORT"
  export RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia"
  export RABBITMQ_LOG_BASE="$STATE/rabbitmq/log"
  export RABBITMQ_PID_FILE="$STATE/rabbitmq/rabbitmq.pid"
  export RABBITMQ_CONFIG_FILE="$STATE/rabbitmq/rabbitmq"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/rabbitmq/enabled_plugins"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rmq_login_ok() {
  curl -fsS -m 3 -u "$RMQ_USER:$RMQ_PASSWORD" "http://127.0.0.1:$RMQ_MGMT_PORT/api/aliveness-test/$RMQ_VHOST" 2>/dev/null | grep -q '"ok"'
}

rmq_pid() {
  local pid; pid=$(cat "$STATE/rabbitmq/rabbitmq.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  # A zombie answers kill -0; its stat says Z.
  [ "$(awk '{print $3}' "/proc/$pid/stat")" != "Z" ] || return 1
  echo "$pid"
}

rmq_up() {
  if port_open "$RMQ_PORT" && rmq_login_ok; then ensure_rmq_service_users; return 0; fi
  rmq_env
  mkdir -p "$HOME" "$STATE/rabbitmq/mnesia" "$STATE/rabbitmq/log"
  cat >"$STATE/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
default_user = $RMQ_USER
default_pass = $RMQ_PASSWORD
default_vhost = $RMQ_VHOST
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
default_user_tags.administrator = true
loopback_users = none
log.console = true
log.file = false
EOF
  echo '[rabbitmq_management].' >"$STATE/rabbitmq/enabled_plugins"
  if ! rmq_pid >/dev/null; then
    log "starting RabbitMQ on 127.0.0.1:$RMQ_PORT (management on $RMQ_MGMT_PORT)"
    nohup setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$STATE/rabbitmq/server.log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + 90))
  until port_open "$RMQ_PORT" && rmq_login_ok; do
    if [ $SECONDS -ge $deadline ]; then tail -n 40 "$STATE/rabbitmq/server.log" >&2; die "RabbitMQ not ready after 90 s"; fi
    sleep 0.5
  done
  ensure_rmq_service_users
}

ensure_rmq_service_users() {
  local svc resources json api="http://127.0.0.1:$RMQ_MGMT_PORT/api"
  for svc in "${SERVICES[@]}"; do
    resources=$(svc_rmq_resources "$svc"); json=${resources//\\/\\\\}
    # Named apart from the administrator (which is also called alignment) so that this never rewrites it.
    curl -fsS -m 10 -u "$RMQ_USER:$RMQ_PASSWORD" -X PUT -H 'content-type: application/json' "$api/users/$svc-svc" \
      -d "{\"password\":\"$(svc_password "$svc")\",\"tags\":\"\"}" >/dev/null
    # Metrics answers the saga's requests: it may declare and write to the saga's exchange, never read its queue.
    local sends=$json
    [ "$svc" = metrics ] && sends="^(alignment-run-state|${json:2}"
    curl -fsS -m 10 -u "$RMQ_USER:$RMQ_PASSWORD" -X PUT -H 'content-type: application/json' "$api/permissions/$RMQ_VHOST/$svc-svc" \
      -d "{\"configure\":\"$sends\",\"write\":\"$sends\",\"read\":\"$json\"}" >/dev/null
  done
}

rmq_down() {
  local pid; pid=$(rmq_pid) || return 0
  rmq_env
  /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while rmq_pid >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.3; done
  rmq_pid >/dev/null && kill -9 "$pid" 2>/dev/null || true
  pkill_epmd
}

# epmd takes its port from the environment, so it is found by the port it listens on.
pkill_epmd() {
  local pid
  for pid in $(ss -ltnpH "sport = :$RMQ_EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill "$pid" 2>/dev/null || true
  done
}

print_env() {
  cat <<EOF
export ConnectionStrings__metricsdb='Host=127.0.0.1;Port=$PG_PORT;Database=metricsdb;Username=$PG_USER;Password=$PG_PASSWORD'
export ConnectionStrings__annotationsdb='Host=127.0.0.1;Port=$PG_PORT;Database=annotationsdb;Username=$PG_USER;Password=$PG_PASSWORD'
export ConnectionStrings__alignmentdb='Host=127.0.0.1;Port=$PG_PORT;Database=alignmentdb;Username=$PG_USER;Password=$PG_PASSWORD'
export ConnectionStrings__messaging='amqp://$RMQ_USER:$RMQ_PASSWORD@127.0.0.1:$RMQ_PORT/$RMQ_VHOST'
export MA_PG_ADMIN='Host=127.0.0.1;Port=$PG_PORT;Database=postgres;Username=$PG_USER;Password=$PG_PASSWORD'
export MA_RMQ_MANAGEMENT='http://127.0.0.1:$RMQ_MGMT_PORT'
EOF
  [ "${1:-}" = "--services" ] || return 0
  local svc
  for svc in metrics annotations alignment; do
    echo "export ConnectionStrings__${svc}db='Host=127.0.0.1;Port=$PG_PORT;Database=${svc}db;Username=$(svc_role "$svc");Password=$(svc_password "$svc")'"
  done
  for svc in "${SERVICES[@]}"; do
    echo "export ConnectionStrings__messaging_${svc//-/_}='amqp://$svc-svc:$(svc_password "$svc")@127.0.0.1:$RMQ_PORT/$RMQ_VHOST'"
  done
}

status() {
  if pg_ready; then echo "postgresql: running on 127.0.0.1:$PG_PORT"; else echo "postgresql: stopped"; fi
  if port_open "$RMQ_PORT" && rmq_login_ok; then echo "rabbitmq: running on 127.0.0.1:$RMQ_PORT (management http://127.0.0.1:$RMQ_MGMT_PORT)"; else echo "rabbitmq: stopped"; fi
}

mkdir -p "$STATE"
case "${1:-}" in
  up) install_packages; pg_up; rmq_up; status >&2 ;;
  down) pg_down; rmq_down; status >&2 ;;
  status) status ;;
  env) print_env "${2:-}" ;;
  stop-postgres) pg_down ;;
  start-postgres) pg_up ;;
  stop-rabbitmq) rmq_down ;;
  start-rabbitmq) rmq_up ;;
  *) echo "usage: $0 up|down|status|env|stop-postgres|start-postgres|stop-rabbitmq|start-rabbitmq" >&2; exit 2 ;;
esac
