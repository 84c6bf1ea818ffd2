#!/bin/sh
# Starts three members, each running sqlite3 on its own database file for every request, and the
# client side; Ctrl-C stops all. Then, in another terminal:
#   vcl-exec --connect 127.0.0.1:7600 -- "create table t(x); insert into t values (42);"
#   echo "select * from t;" | vcl-exec --connect 127.0.0.1:7600
# The databases are in VCL_EXAMPLE_DIR (default: a new temporary folder), one replica-nN each.
# VCL_EXAMPLE_PORT_BASE=27600 moves every port (76xx -> 276xx) when 7600-7633 are taken.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v sqlite3 >/dev/null || { echo "start.sh: sqlite3 is not installed (Debian: apt-get install sqlite3)" >&2; exit 1; }
base=${VCL_EXAMPLE_PORT_BASE:-7600}
p=$((base / 100))
work=${VCL_EXAMPLE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vcl-sqlite-XXXXXX")}
mkdir -p "$work"
stack="$work/stack.yaml"
sed "s/\b76\([0-9][0-9]\)\b/${p}\1/g" "$here/stack.yaml" >"$stack"
echo "start.sh: the replicas' databases: $work/replica-n1/db.sqlite, replica-n2, replica-n3" >&2
cd "$work"
# The checkout's vcl (npx vcl does the same once npm ci linked it; it builds the libraries on first use).
exec node "$here/../../packages/vcl-core/bin/vcl.cjs" local --config "$stack"
