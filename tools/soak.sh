#!/usr/bin/env bash
# Soak run for TorchSharp's Scalar race (issue 13, docs/torchsharp-native.md): the default `experiment amc`, the
# default `experiment rec` and 20 `eval` passes, with every native-error retry turned off, so a single occurrence of
# the error stops the command that hit it. Prints, per part, whether it finished and how many native errors it hit.
#
#   tools/soak.sh [OUT [PART...]]   (OUT defaults to soak/; PART: evals, rec, amc, default all three; about 2 h on
#                                    2 cores in all)
#
# A part that stops on the error is not redone here; run the script again with the same OUT to continue (the
# experiments resume from their cached stages), and add its count to the previous run's.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-soak}
shift || true
parts=${*:-evals rec amc}
for part in $parts; do
  case $part in evals|rec|amc) ;; *) echo "error: unknown part '$part' (evals, rec, amc)" >&2; exit 2 ;; esac
done
wants() { [[ " $parts " == *" $1 "* ]]; }
mkdir -p "$out"
export GROUNDSHARP_NATIVE_RETRIES=0
dotnet build src/GroundSharp.Cli -c Release -o "$out/bin" >/dev/null || { echo "error: the build failed" >&2; exit 2; }
gs="$out/bin/groundsharp"

errors=0
run() {
  local name=$1; shift
  local log="$out/$name.log"
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local hits
  hits=$(grep -cE "Unknown scalar type|Scalar\.h|toFloat" "$log")
  errors=$((errors + hits))
  printf '%-24s exit %-3s native errors %-3s %6ss  (%s)\n' "$name" "$rc" "$hits" "$((SECONDS - start))" "$log"
}

# Shortest parts first, so that a session that has to stop early has measured the most kinds of work.
if wants evals; then
  [ -d "$out/evaldata" ] || "$gs" synth --seed 7 --out "$out/evaldata" >"$out/synth.log" 2>&1 || { echo "error: synth failed, see $out/synth.log" >&2; exit 2; }
  for i in $(seq 1 20); do
    run "eval-$i" "$gs" eval --data "$out/evaldata" --split val --out "$out/eval-$i"
  done
fi
wants rec && run experiment-rec "$gs" experiment rec --out "$out/rec"
wants amc && run experiment-amc "$gs" experiment amc --out "$out/amc"
echo "native errors in all: $errors"
[ "$errors" -eq 0 ]
