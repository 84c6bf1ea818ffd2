#!/bin/sh
# Starts three nginx replicas of one static site and, with `vcl local`, three members and the
# client side; Ctrl-C stops all. Then, in another terminal:  curl http://127.0.0.1:7500/
# VCL_EXAMPLE_PORT_BASE=27500 moves every port (75xx -> 275xx) when 7500-7533 are taken.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v nginx >/dev/null || { echo "start.sh: nginx is not installed (Debian: apt-get install nginx-light)" >&2; exit 1; }
base=${VCL_EXAMPLE_PORT_BASE:-7500}
p=$((base / 100))
stack="$here/stack.yaml"
work=$(mktemp -d "${TMPDIR:-/tmp}/vcl-nginx-XXXXXX")
chmod 755 "$work"
if [ "$base" != 7500 ]; then
  stack="$work/stack.yaml"
  sed "s/\b75\([0-9][0-9]\)\b/${p}\1/g" "$here/stack.yaml" >"$stack"
fi
pids=""
for i in 1 2 3; do
  home="$work/nginx-$i"
  mkdir -p "$home/www"
  cp "$here/index.html" "$home/www/index.html"
  cat >"$home/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $home/nginx.pid; error_log $home/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $home/tmp-body; proxy_temp_path $home/tmp-proxy; fastcgi_temp_path $home/tmp-fcgi;
  uwsgi_temp_path $home/tmp-uwsgi; scgi_temp_path $home/tmp-scgi;
  server { listen 127.0.0.1:${p}1$i; root $home/www; }
}
CONF
  nginx -p "$home" -c "$home/nginx.conf" &
  pids="$pids $!"
done
trap 'kill $pids 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
# The checkout's vcl (npx vcl does the same once npm ci linked it; it builds the libraries on first use).
node "$here/../../packages/vcl-core/bin/vcl.cjs" local --config "$stack" \
  --service-endpoints "n1=127.0.0.1:${p}11,n2=127.0.0.1:${p}12,n3=127.0.0.1:${p}13"
