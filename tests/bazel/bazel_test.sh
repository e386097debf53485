#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bazel/bazel_test.sh - pycompile-repro-bazel under a real Bazel
# (Debian's bazel-bootstrap, offline), as rules_python runs its
# precompiler: a workspace of generated modules (PCR_BAZEL_MODULES, 2000)
# and Django's tree, one PyCompile action per source (tests/bazel/
# workspace/rules/precompile.bzl: rules_python's argv, @param file,
# environment and execution requirements), the precompiler being
# contrib/bazel's pycompile_repro_precompiler as `make install` puts it.
#
#   1. persistent worker, multiplex, not sandboxed (fills a --disk_cache);
#   2. singleplex, sandboxed (--worker_sandboxing);
#   3. multiplex, sandboxed (--experimental_worker_multiplex_sandboxing:
#      requests with a sandboxDir);
#   4. singleplex, not sandboxed, through an HTTP remote cache (nginx with
#      WebDAV on 127.0.0.1, started and stopped here);
#   5. the same workspace at another path, in another output base, with
#      the disk cache: every PyCompile action is a cache hit;
#   6. the same with the HTTP cache.
# After each, every .pyc must be byte for byte what the pycompile-repro
# command line writes for the same source, version, level and mode, with
# the same recorded name (tests/bazel/check_pycs.py); the execution log
# says how many PyCompile spawns ran and hit.  Ends with "N passed, N
# failed".  Needs bazel and nginx (Debian sid: bazel-bootstrap, nginx);
# makes nothing outside a temporary directory.  Django: the first
# PCR_CORPORA entry ending in /django, else python3-django fetched with
# apt-get download.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
top=$PWD
py=${PYTHON:-/usr/bin/python3}
modules=${PCR_BAZEL_MODULES:-2000}
tmp=$(mktemp -d /tmp/pcr-bazel.XXXXXX)
bazel_dirs=() # "workspace output_base" of every Bazel server started
nginx_pid=""

cleanup() {
    local pair
    for pair in "${bazel_dirs[@]}"; do
        (cd "${pair% *}" && bazel --output_base="${pair#* }" shutdown) \
            >/dev/null 2>&1
    done
    bazel_dirs=()
    if [ -n "$nginx_pid" ]; then
        kill "$nginx_pid" 2>/dev/null
        wait "$nginx_pid" 2>/dev/null
        nginx_pid=""
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
start_all=$(now)

for cmd in bazel nginx "$py"; do
    if ! command -v "$cmd" >/dev/null; then
        echo "bazel: no $cmd (Debian: bazel-bootstrap, nginx)"
        t_add "bazel: prerequisites" 0 1
        t_total
        exit 1
    fi
done

# the tool as a user installs it, into a private root
inst=$tmp/inst
if ! { make -s all >"$tmp/make.log" 2>&1 &&
    make -s install DESTDIR="$inst" PREFIX=/usr >>"$tmp/make.log" 2>&1; }; then
    tail -n 30 "$tmp/make.log"
    t_add "bazel: make install" 0 1
    t_total
    exit 1
fi
precompiler=$inst/usr/bin/pycompile-repro-bazel
module=$inst/usr/share/pycompile-repro/bazel
t_add "bazel: make install" 1 0

django=""
for c in ${PCR_CORPORA:-}; do
    case $c in */django) [ -d "$c" ] && django=$c && break ;; esac
done
if [ -z "$django" ]; then
    mkdir -p "$tmp/deb"
    if (cd "$tmp/deb" && { apt-get download -q python3-django ||
        { apt-get update -q && apt-get download -q python3-django; }; } &&
        dpkg-deb -x python3-django_*.deb x) >"$tmp/deb.log" 2>&1; then
        django=$tmp/deb/x/usr/lib/python3/dist-packages/django
    else
        tail -n 20 "$tmp/deb.log"
        t_add "bazel: python3-django" 0 1
        t_total
        exit 1
    fi
fi

ws_a=$tmp/a/ws
ob_a=$tmp/ob-a
if ! "$py" tests/bazel/make_workspace.py --out "$ws_a" \
    --precompiler "$precompiler" --module "$module" --modules "$modules" \
    --django "$django" >"$tmp/ws.log" 2>&1 ||
    ! "$py" tests/bazel/check_pycs.py reference "$ws_a" "$tmp/ref" \
        --tool "$inst/usr/bin/pycompile-repro" >>"$tmp/ws.log" 2>&1; then
    cat "$tmp/ws.log"
    t_add "bazel: workspace" 0 1
    t_total
    exit 1
fi
nsrc=$("$py" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
    "$ws_a/manifest.json")
t_add "bazel: workspace ($nsrc sources)" 1 0

# nginx as an HTTP cache (WebDAV PUT), on a free port of 127.0.0.1
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/nginx/tmp" "$tmp/http-cache"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 64; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$port;
        root $tmp/http-cache;
        location / {
            dav_methods PUT;
            create_full_put_path on;
        }
    }
}
EOF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" 2>>"$tmp/nginx/error.log" &
nginx_pid=$!
up=0
for _ in $(seq 50); do
    if "$py" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.1
done
if [ "$up" = 1 ]; then
    t_add "bazel: nginx on 127.0.0.1:$port" 1 0
else
    cat "$tmp/nginx/error.log"
    t_add "bazel: nginx" 0 1
fi

# Bazel reserves a CPU per action: with only those, a multiplex worker
# would see one or two requests at a time on a small machine.
common=(--strategy=PyCompile=worker --jobs=16 --local_cpu_resources=8
    --color=no --curses=no --nosandbox_debug --worker_verbose)

# One build: NAME WS OB HITS FLAGS...; the .pyc compared after it.
n_build=0
build() {
    local name=$1 ws=$2 ob=$3 hits=$4
    shift 4
    n_build=$((n_build + 1))
    local log=$tmp/build-$n_build.log exe=$tmp/exec-$n_build.json t
    case " ${bazel_dirs[*]:-} " in
    *" $ob "*) ;;
    *) bazel_dirs+=("$ws $ob") ;;
    esac
    t=$(now)
    (cd "$ws" && bazel --output_base="$ob" clean >/dev/null 2>&1
        bazel --output_base="$ob" build //... "${common[@]}" \
            --execution_log_json_file="$exe" "$@") >"$log" 2>&1
    local rc=$? secs
    secs=$(since "$t")
    local p=0 f=0
    if [ "$rc" != 0 ]; then
        tail -n 30 "$log"
        f=$((f + 1))
    else
        p=$((p + 1))
    fi
    local out
    out=$("$py" tests/bazel/execlog.py "$exe" "$nsrc" $hits 2>&1) &&
        p=$((p + 1)) || { f=$((f + 1)); echo "$out"; }
    echo "bazel: $name: $out"
    out=$("$py" tests/bazel/check_pycs.py compare "$ws" "$tmp/ref" \
        "$ws/bazel-bin" 2>&1) && p=$((p + 1)) || { f=$((f + 1)); echo "$out"; }
    echo "bazel: $name: ${out##*$'\n'}"
    # what Bazel says it started, from --worker_verbose
    grep -oE 'Created new [a-z-]+ PyCompile [a-z-]*worker' "$log" | sort |
        uniq -c | sed "s/^ */bazel: $name: /"
    last_log=$log
    t_add "bazel: $name (${secs}s)" "$p" "$f"
}

# Bazel's own words on the workers it started for the last build
# ("Created new sandboxed PyCompile multiplex-worker (id 5, ...").
expect_workers() { # name kind
    if grep -qE "Created new $2 \(id " "$last_log"; then
        t_add "bazel: $1: $2 workers" 1 0
    else
        grep -E 'Created new|ERROR' "$last_log" | head -n 5
        t_add "bazel: $1: $2 workers" 0 1
    fi
}

build "multiplex" "$ws_a" "$ob_a" "" --disk_cache="$tmp/disk"
expect_workers multiplex "non-sandboxed PyCompile multiplex-worker"
build "singleplex sandboxed" "$ws_a" "$ob_a" "" --noworker_multiplex \
    --worker_sandboxing
expect_workers "singleplex sandboxed" "sandboxed PyCompile worker"
build "multiplex sandboxed" "$ws_a" "$ob_a" "" \
    --experimental_worker_multiplex_sandboxing
expect_workers "multiplex sandboxed" "sandboxed PyCompile multiplex-worker"
# the requests carried a sandboxDir, and the worker used it
if grep -qs 'file(s) in sandbox ' "$ob_a"/bazel-workers/multiplex-worker-*.log; then
    t_add "bazel: multiplex sandboxed: sandboxDir" 1 0
else
    t_add "bazel: multiplex sandboxed: sandboxDir" 0 1
fi
build "singleplex, HTTP cache" "$ws_a" "$ob_a" "" --noworker_multiplex \
    --remote_cache="http://127.0.0.1:$port"
expect_workers "singleplex, HTTP cache" "non-sandboxed PyCompile worker"

# the same sources at another path, in another output base: every
# action's key is the same, so every PyCompile action hits
ws_b=$tmp/elsewhere/deeper/ws-b
ob_b=$tmp/ob-b
mkdir -p "$(dirname "$ws_b")"
(cd "$ws_a" && tar --exclude='./bazel-*' -cf - .) |
    { mkdir -p "$ws_b" && tar -xf - -C "$ws_b"; }
build "other path, disk cache" "$ws_b" "$ob_b" --hits \
    --disk_cache="$tmp/disk"
build "other path, HTTP cache" "$ws_b" "$ob_b" --hits \
    --remote_cache="http://127.0.0.1:$port"
gets=$(grep -c '"GET /cas/' "$tmp/nginx/access.log" 2>/dev/null)
puts=$(grep -c '"PUT /cas/' "$tmp/nginx/access.log" 2>/dev/null)
echo "bazel: nginx: ${puts:-0} CAS uploads, ${gets:-0} CAS downloads"
if [ "${gets:-0}" -ge "$nsrc" ] && [ "${puts:-0}" -ge "$nsrc" ]; then
    t_add "bazel: HTTP cache traffic" 1 0
else
    t_add "bazel: HTTP cache traffic" 0 1
fi

echo "bazel: $(since "$start_all") s in all"
cleanup
t_total
