#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests: `scripts/pg.sh run -- <command…>` installs PostgreSQL
# from Debian's packages if the machine lacks it, `initdb`s a cluster into a temporary folder as
# an unprivileged user (postgres, or nobody), starts it on a free loopback port, runs the command
# with CAMPUS_VOIP_TEST_PG=postgres://… (a superuser URL; the tests create their own databases),
# then stops the cluster and removes the folder — also when the command fails or is interrupted.
# The command's exit status is the script's.
#
#   scripts/pg.sh run -- cargo test -p campus-voip-server
#   scripts/pg.sh url    # (inside `run`) prints the URL again
set -euo pipefail

say() { printf '\033[1mpg:\033[0m %s\n' "$*" >&2; }

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [[ -x "$d/initdb" ]] && { echo "$d"; return; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" ]] && { echo "$d"; return; }
  done
}

ensure_installed() {
  BINDIR=$(find_bindir || true)
  if [[ -z "${BINDIR:-}" ]]; then
    say "PostgreSQL is not installed: apt-get install postgresql"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql >/dev/null ||
      { $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql >/dev/null; }
    BINDIR=$(find_bindir || true)
    [[ -n "${BINDIR:-}" ]] || { say "cannot find initdb after installing postgresql"; exit 1; }
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the cluster's owner (root may not run PostgreSQL).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

start() {
  ensure_installed
  OWNER=$(id -un)
  if [[ $(id -u) -eq 0 ]]; then
    OWNER=postgres
    id postgres >/dev/null 2>&1 || OWNER=nobody
  fi
  PGTMP=$(mktemp -d "${TMPDIR:-/tmp}/campus-voip-pg.XXXXXX")
  chmod 755 "$PGTMP"
  [[ $(id -u) -eq 0 ]] && chown "$OWNER" "$PGTMP"
  PGPORT=$(free_port)
  say "initdb into $PGTMP (as $OWNER, $("$BINDIR/postgres" --version))"
  as_owner "$BINDIR/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$PGTMP/initdb.log" 2>&1 || { cat "$PGTMP/initdb.log" >&2; exit 1; }
  # Loopback only, a socket in the temporary folder, tuned for tests (fsync stays on: the crash
  # tests rely on acknowledged commits being durable).
  local opts="-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c max_connections=1000 -c shared_buffers=128MB"
  as_owner "$BINDIR/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 start -o "$opts" \
    >/dev/null || { cat "$PGTMP/server.log" >&2; exit 1; }
  # For the test that stops and starts the cluster again (same options).
  export CAMPUS_VOIP_TEST_PG_OPTS="$opts"
  export CAMPUS_VOIP_TEST_PG="postgres://postgres@127.0.0.1:$PGPORT/postgres"
  export CAMPUS_VOIP_TEST_PG_CTL="$BINDIR/pg_ctl"
  export CAMPUS_VOIP_TEST_PG_DATA="$PGTMP/data"
  say "PostgreSQL on 127.0.0.1:$PGPORT"
}

stop() {
  [[ -n "${PGTMP:-}" && -d "$PGTMP" ]] || return 0
  as_owner "$BINDIR/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
  say "stopped and removed"
}

case "${1:-}" in
  run)
    shift
    [[ "${1:-}" == "--" ]] && shift
    [[ $# -gt 0 ]] || { say "usage: scripts/pg.sh run -- <command…>"; exit 2; }
    child=""
    trap stop EXIT
    # A signal ends the command too, then the EXIT trap removes the cluster. (The command runs
    # in the background and is waited for: bash runs a trap only once a foreground child ends.)
    trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; exit 130' INT TERM
    start
    set +e
    "$@" &
    child=$!
    wait "$child"
    status=$?
    set -e
    exit $status
    ;;
  url)
    [[ -n "${CAMPUS_VOIP_TEST_PG:-}" ]] || { say "not inside scripts/pg.sh run"; exit 1; }
    echo "$CAMPUS_VOIP_TEST_PG"
    ;;
  *)
    say "usage: scripts/pg.sh run -- <command…>"
    exit 2
    ;;
esac
