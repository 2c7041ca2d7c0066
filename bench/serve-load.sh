#!/usr/bin/env bash
# Bounded load run of `groundsharp serve` on loopback only (about 25 s of load in all).
# Starts the server on a free 127.0.0.1 port with the albef-tiny-A fixture model, then runs wrk twice against
# POST /api/ground (a bundled sample, 2 phrases; bench/serve-load.lua):
#   1. within capacity: connections = max-concurrency + queue, so every request must succeed (no 503);
#   2. over capacity: more connections than running + waiting slots, so the surplus must get the intended
#      503 + Retry-After, and nothing else may fail.
# Prints requests/s, p50/p99 latency and the response counts of each phase; exits non-zero on any other failure.
set -euo pipefail
cd "$(dirname "$0")/.."
CONCURRENCY=${CONCURRENCY:-2}
PHASE_SECONDS=${PHASE_SECONDS:-12}
OVERLOAD_CONNECTIONS=${OVERLOAD_CONNECTIONS:-16}
FIXTURE=tests/GroundSharp.Tests/Fixtures/albef-tiny-A

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
dotnet build src/GroundSharp.Cli -c Release -nologo -v q >/dev/null

log=$(mktemp)
dotnet src/GroundSharp.Cli/bin/Release/net10.0/linux-x64/GroundSharp.Cli.dll serve \
  --checkpoint "$FIXTURE/checkpoint.pth" --config "$FIXTURE/cli/groundsharp-config.json" --vocab "$FIXTURE/cli/vocab.txt" \
  --urls http://127.0.0.1:0 --max-concurrency "$CONCURRENCY" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT

url=""
for _ in $(seq 1 120); do
  url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$log" | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "server exited"; exit 1; }
  sleep 0.5
done
[ -n "$url" ] || { cat "$log"; echo "server did not start"; exit 1; }
case "$url" in http://127.0.0.1:*) ;; *) echo "refusing a non-loopback target: $url"; exit 1 ;; esac
grep -E '^(model|limits):' "$log"
curl -sf "$url/healthz" >/dev/null
# Warm-up: JIT and the first forward pass are not part of the figures.
for _ in 1 2 3; do curl -sf -H 'Content-Type: application/json' -d '{"sample":"shapes-1","phrases":["the red circle","the blue square"]}' "$url/api/ground" >/dev/null; done

capacity=$((CONCURRENCY * 3)) # running + waiting (queue = 2 x concurrency)
run_phase() { # name connections
  local out
  out=$(wrk -t2 -c"$2" -d"${PHASE_SECONDS}s" --timeout 30s -s bench/serve-load.lua "$url/api/ground")
  local result
  result=$(grep '^RESULT' <<<"$out")
  echo "$1 (connections=$2): ${result#RESULT }"
  RESULT_LINE=$result
}
field() { grep -oE "$1=[0-9.]+" <<<"$RESULT_LINE" | cut -d= -f2; }

status=0
run_phase "within capacity" "$capacity"
if [ "$(field busy503)" != 0 ] || [ "$(field other_non2xx)" != 0 ] || [ "$(field socket_errors)" != 0 ]; then
  echo "FAIL: requests failed within capacity"; status=1
fi
run_phase "over capacity" "$OVERLOAD_CONNECTIONS"
if [ "$(field other_non2xx)" != 0 ] || [ "$(field socket_errors)" != 0 ] || [ "$(field busy503_without_retry_after)" != 0 ]; then
  echo "FAIL: failures other than the intended 503 + Retry-After"; status=1
fi
if [ "$(field busy503)" = 0 ]; then echo "note: no 503 over capacity (the server kept up)"; fi
[ "$status" = 0 ] && echo "OK: no request failed other than the intended 503s"
exit "$status"
