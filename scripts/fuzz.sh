#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/fuzz_targets/, bodies in tests/fuzz_bodies/mod.rs) one after
# the other, each for N seconds, with the pinned nightly, and prints per target how many inputs
# libFuzzer executed and whether it found a crash.
#
#   scripts/fuzz.sh [seconds] [target...]     (from the repo root; default: every target)
#
# Environment:
#   FUZZ_SECONDS    seconds per target when not given as the first argument (default 60)
#   FUZZ_SANITIZER  cargo-fuzz sanitizer (default "none": the core has no unsafe code, and
#                   without ASan libFuzzer runs several times more inputs; "address" works too)
#   FUZZ_ARGS       extra libFuzzer options (e.g. "-max_len=8192")
#
# Builds with debug assertions and overflow checks (-a). Corpora: fuzz/corpus/<target>/
# (generated, git-ignored) plus the committed fuzz/seeds/<target>/ and fuzz/regressions/<target>/.
# A crash leaves its input in fuzz/artifacts/<target>/; minimize it with
#   cargo +$(cat rust-nightly-version) fuzz tmin -a -s none <target> <artifact>
# and copy the result to fuzz/regressions/<target>/ (tests/fuzz_regressions.rs runs it).
# Logs: fuzz/target/fuzz-logs/<target>.log. Exit status 1 if any target crashed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export PATH="$HOME/.cargo/bin:$PATH"

NIGHTLY="$(cat rust-nightly-version)"
SANITIZER="${FUZZ_SANITIZER:-none}"

seconds="${FUZZ_SECONDS:-60}"
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: seconds must be a positive whole number, got '$seconds'" >&2
  exit 2
fi

step() { printf '\033[1mfuzz:\033[0m %s\n' "$*"; }

# cargo-fuzz, installed with the pinned nightly only if missing.
if ! cargo "+$NIGHTLY" fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz with $NIGHTLY"
  cargo "+$NIGHTLY" install cargo-fuzz
fi

all_targets=()
while IFS= read -r t; do
  [ -n "$t" ] && all_targets+=("$t")
done < <(cargo "+$NIGHTLY" fuzz list)

if [ $# -gt 0 ]; then
  targets=("$@")
  for t in "${targets[@]}"; do
    if ! printf '%s\n' "${all_targets[@]}" | grep -qx -- "$t"; then
      echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2
      exit 2
    fi
  done
else
  targets=("${all_targets[@]}")
fi

build_flags=(-a -s "$SANITIZER")
step "building ${targets[*]} ($NIGHTLY, sanitizer $SANITIZER, debug assertions on)"
for t in "${targets[@]}"; do
  cargo "+$NIGHTLY" fuzz build "${build_flags[@]}" "$t"
done

logs="fuzz/target/fuzz-logs"
mkdir -p "$logs"
summary=()
crashed=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  dirs=("$corpus")
  for extra in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
    [ -d "$extra" ] && dirs+=("$extra")
  done
  log="$logs/$t.log"
  step "running $t for ${seconds}s (log: $log)"
  start=$(date +%s)
  set +e
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  timeout --kill-after=30 "$((seconds + 300))" \
    cargo "+$NIGHTLY" fuzz run "${build_flags[@]}" "$t" "${dirs[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
    ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(($(date +%s) - start))

  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -1)
  fi
  if [ -z "$execs" ]; then
    # A crash ends the run before the final stats: take the last progress line.
    execs=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)
  fi
  execs="${execs:-?}"
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)

  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    result="no crash"
  else
    crashed=1
    if [ -n "$artifact" ]; then
      result="CRASH (exit $rc): $artifact"
    else
      result="FAILED (exit $rc, no artifact; see $log)"
    fi
    grep -E "panicked at|^thread '|ERROR: libFuzzer|SUMMARY:" "$log" | head -5 | sed 's/^/    /' || true
  fi
  [ -n "$done_line" ] && echo "    $done_line"
  echo "    $t: $execs executions in ${elapsed}s — $result"
  summary+=("$(printf '%-16s %12s %8ss  %s' "$t" "$execs" "$elapsed" "$result")")
done

echo
printf '%-16s %12s %9s  %s\n' target executions time result
printf '%s\n' "${summary[@]}"
exit "$crashed"
