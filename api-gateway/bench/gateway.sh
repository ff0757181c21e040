#!/usr/bin/env bash
# Throughput/latency of an authenticated GET: direct to the upstream, through nginx, and through
# api-gateway (JWT verification, route table, rate limiter, header rewriting, access log),
# all in the same run on the same machine. Not a test.
#
#   bench/gateway.sh            # DURATION=15s CONNECTIONS=64 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
WORKERS="${WORKERS:-2}"
ECHO_PORT="${ECHO_PORT:-3901}"
GW_PORT="${GW_PORT:-3900}"
GWLOG_PORT="${GWLOG_PORT:-3903}"
ROUNDS="${ROUNDS:-2}"
NGINX_PORT="${NGINX_PORT:-3902}"
WORK="$(mktemp -d /tmp/gw-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  echo "installing nginx and wrk from Debian..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y nginx wrk >/dev/null
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

cargo build --release --bin api-gateway --example echo_upstream >&2
BIN="$CARGO_TARGET_DIR/release"

wait_http() { for _ in $(seq 1 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

ECHO_PORT=$ECHO_PORT ECHO_WORKERS=$WORKERS TOKEN_FILE="$WORK/token" "$BIN/examples/echo_upstream" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$ECHO_PORT/healthz"
TOKEN="$(cat "$WORK/token")"

start_gateway() { # $1 = log level, $2 = port
  APP_PORT=$2 APP_WORKERS=$WORKERS LOG_LEVEL="$1" ROUTES_FILE="$PWD/routes.yaml" \
  UPSTREAM_AUTH_SERVICE="http://127.0.0.1:$ECHO_PORT" UPSTREAM_GAME_EVENT_SERVICE="http://127.0.0.1:$ECHO_PORT" \
  AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" \
  RATE_LIMIT_PER_MINUTE=1000000000 HEALTH_CHECK_INTERVAL_MS=5000 \
  "$BIN/api-gateway" >"$WORK/gateway-$1.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$2/healthz"
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$2/events")" = 200 ] && return 0
    sleep 0.1
  done
  echo "gateway does not accept the token" >&2; exit 1
}

cat >"$WORK/nginx.conf" <<NGINX
worker_processes $WORKERS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream echo { server 127.0.0.1:$ECHO_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGINX
"$NGINX_BIN" -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"
wait_http "http://127.0.0.1:$NGINX_PORT/healthz"

run() { # name url var -> best rps (and its p99) over the rounds so far
  curl -fsS -H "Authorization: Bearer $TOKEN" "$2" >/dev/null
  local out; out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "$2")"
  echo "$out" >>"$WORK/wrk-$3.txt"
  local rps p99 errs
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")"
  errs="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  printf '  round %s  %-28s %10s rps   p99 %7s ms   non-2xx %s\n' "$ROUND" "$1" "$rps" "$p99" "${errs:-0}"
  local prev; eval "prev=\${RPS_$3:-0}"
  if awk -v a="$rps" -v b="$prev" 'BEGIN {exit !(a > b)}'; then eval "RPS_$3=$rps; P99_$3=$p99"; fi
}

start_gateway warn "$GW_PORT"
start_gateway info "$GWLOG_PORT"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS rounds (interleaved), $(nproc) cores, $WORKERS workers each; GET /events with a bearer token"
for ROUND in $(seq 1 "$ROUNDS"); do
  run "direct (echo upstream)" "http://127.0.0.1:$ECHO_PORT/events" DIRECT
  run "nginx proxy" "http://127.0.0.1:$NGINX_PORT/events" NGINX
  run "api-gateway (no access log)" "http://127.0.0.1:$GW_PORT/events" GW
  run "api-gateway (access log on)" "http://127.0.0.1:$GWLOG_PORT/events" GWLOG
done
echo "best of $ROUNDS rounds:"
printf '  %-28s %10s rps   p99 %7s ms\n' "direct (echo upstream)" "$RPS_DIRECT" "$P99_DIRECT" "nginx proxy" "$RPS_NGINX" "$P99_NGINX" \
  "api-gateway (no access log)" "$RPS_GW" "$P99_GW" "api-gateway (access log on)" "$RPS_GWLOG" "$P99_GWLOG"
awk -v d="$RPS_DIRECT" -v n="$RPS_NGINX" -v g="$RPS_GW" -v gl="$RPS_GWLOG" 'BEGIN {
  printf "ratios: gateway/nginx %.2f   gateway(log)/nginx %.2f   gateway/direct %.2f   nginx/direct %.2f\n", g/n, gl/n, g/d, n/d }'
echo "raw wrk output: $WORK"
