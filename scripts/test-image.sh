#!/usr/bin/env bash
# The image test: builds the Dockerfile with podman, runs the image on loopback with a
# volume, creates a tenant, ingests a document, asks a question and checks the cited answer,
# stops the container with SIGTERM (it must exit 0 with every database closed), starts a new
# container on the same volume and asks again.
#
#   bash scripts/test-image.sh        (npm run test:image)
#
# Needs podman (Debian: apt-get install podman runc). Without image registries, the base
# images are made locally by scripts/container/make-base-images.sh (debootstrap + npm's node
# binary, cached in podman's storage); set BUILD_IMAGE and RUNTIME_IMAGE to use others.
# Exits 0 when it passed, 1 when it failed, 77 when it cannot run here (no podman/debootstrap).
# Everything it makes (image, containers, volume, config) is removed at the end; the base
# images are kept for the next run (CLEAN_BASE=1 removes them too). IMAGE_TEST_CACHE=1 lets
# podman cache build layers between runs.
set -uo pipefail
cd "$(dirname "$0")/.."

id="$$-$(date +%s)"
image="localhost/bitb-test:${id}"
volume="bitb-test-data-${id}"
name="bitb-test-${id}"
work="$(mktemp -d /tmp/bitb-image-test.XXXXXX)"
t0=$(date +%s)

log() { printf '[image-test %4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() {
  log "FAIL: $*"
  for c in "$name-1" "$name-2"; do
    if podman container exists "$c" 2>/dev/null; then
      echo "--- logs of $c (last 40 lines)"
      podman logs "$c" 2>&1 | tail -40
    fi
  done
  exit 1
}
cleanup() {
  for c in "$name-1" "$name-2"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
  podman volume rm -f "$volume" >/dev/null 2>&1
  podman rmi -f "$image" >/dev/null 2>&1
  if [ -n "${CLEAN_BASE:-}" ] && [ -n "${made_bases:-}" ]; then
    podman rmi -f $made_bases >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v podman >/dev/null 2>&1; then
  echo "podman is not installed: image test skipped"
  exit 77
fi

# runc instead of crun, and an open-files limit SQLite and the embedder's workers are happy
# with (see STACK.md, "Containers without a Docker engine").
if [ -z "${CONTAINERS_CONF:-}" ]; then
  cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$work/containers.conf"
fi

# ---- base images ---------------------------------------------------------------------------
if [ -z "${BUILD_IMAGE:-}" ] || [ -z "${RUNTIME_IMAGE:-}" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "debootstrap is not installed and BUILD_IMAGE/RUNTIME_IMAGE are not set: image test skipped"
    exit 77
  fi
  log "base images (made once, then cached)"
  bases="$(scripts/container/make-base-images.sh | tail -1)" || fail "could not make the base images"
  made_bases="$bases"
  read -r BUILD_IMAGE RUNTIME_IMAGE <<<"$bases"
fi
log "build base ${BUILD_IMAGE}, runtime base ${RUNTIME_IMAGE}"

# ---- build -----------------------------------------------------------------------------------
b0=$(date +%s)
# IMAGE_TEST_CACHE=1 keeps podman's layer cache between runs (faster; leaves cached layers).
layers=false
[ -n "${IMAGE_TEST_CACHE:-}" ] && layers=true
podman build --format docker --network host --layers="$layers" \
  --build-arg "BUILD_IMAGE=${BUILD_IMAGE}" --build-arg "RUNTIME_IMAGE=${RUNTIME_IMAGE}" \
  -t "$image" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "podman build"; }
podman image exists "$image" || { tail -40 "$work/build.log"; fail "podman build made no image"; }
build_s=$(($(date +%s) - b0))
size="$(podman image inspect -f '{{.Size}}' "$image")"
log "built ${image} in ${build_s}s ($((size / 1024 / 1024)) MB)"
# No TypeScript among the production dependencies (decision 046).
if podman run --rm --entrypoint sh "$image" -c 'test -e /app/node_modules/typescript' 2>/dev/null; then
  fail "TypeScript is in the image's node_modules"
fi
user="$(podman image inspect -f '{{.Config.User}}' "$image")"
case "$user" in "" | 0 | 0:* | root | root:*) fail "the image runs as root ('$user')" ;; esac

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://127.0.0.1:${port}"

start() { # name, extra env...
  local cname="$1"
  shift
  # No systemd here to time the HEALTHCHECK: it is run by hand below.
  podman run -d --name "$cname" --init --network host -v "${volume}:/data" --health-interval=disable \
    -e HOST=127.0.0.1 -e "PORT=${port}" -e ALLOWED_HOSTS=127.0.0.1,localhost "$@" "$image" >/dev/null 2>>"$work/podman.log" \
    || { cat "$work/podman.log"; fail "podman run $cname"; }
  local s0
  s0=$(date +%s)
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "${base}/readyz")" = "200" ]; then
      log "$cname ready in $(($(date +%s) - s0))s"
      return 0
    fi
    [ "$(podman inspect -f '{{.State.Running}}' "$cname")" = "true" ] || fail "$cname exited"
    sleep 0.5
  done
  fail "$cname not ready after 300s"
}

ask() { # tenant, question -> the JSON `done` data on stdout (with the tenant's secret key)
  curl -sf -H 'content-type: application/json' -H 'accept: application/json' \
    -H "authorization: Bearer ${secret_key}" \
    -d "{\"tenant_id\":\"$1\",\"query\":\"$2\"}" "${base}/api/ask"
}

check_answer() { # json, label
  node -e '
    const done = JSON.parse(process.argv[1]);
    const cited = (done.citations || []).map((c) => c.fileName);
    const answer = done.answer || "";
    if (!cited.includes("espresso-care.md")) {
      console.error("no citation of espresso-care.md: " + JSON.stringify(done).slice(0, 400));
      process.exit(1);
    }
    if (!/42 days/.test(answer)) {
      console.error("the answer lacks the fact: " + answer.slice(0, 400));
      process.exit(1);
    }
    console.log(process.argv[2] + ": " + JSON.stringify(answer.slice(0, 120)) + " cites " + cited.join(", "));
  ' "$1" "$2"
}

# ---- first container: the embedded defaults, demo tenant included --------------------------
podman volume create "$volume" >/dev/null || fail "podman volume create"
start "$name-1"
podman healthcheck run "$name-1" >/dev/null 2>&1 && log "HEALTHCHECK passes" \
  || fail "the image's HEALTHCHECK failed"

tenant="$(podman exec "$name-1" bitb tenant:create --name 'Image test' | tail -1)"
[[ "$tenant" =~ ^tn_[0-9a-f]{32}$ ]] || fail "tenant:create printed '$tenant'"
secret_key="$(podman exec "$name-1" bitb key:create "$tenant" --name image-test | tail -1)"
[[ "$secret_key" =~ ^bitb_sk_ ]] || fail "key:create printed no key"
log "tenant ${tenant}"

cat >"$work/espresso-care.md" <<'EOF'
# Caring for the Zorblax 9000

## Descaling

The Zorblax 9000 espresso machine must be descaled every 42 days with citric acid.
Skipping descaling voids the warranty.

## Milk frother

Rinse the steam wand after every use and purge it for two seconds.
EOF
podman cp "$work/espresso-care.md" "$name-1:/tmp/espresso-care.md" || fail "podman cp"
i0=$(date +%s)
podman exec "$name-1" bitb ingest "$tenant" /tmp/espresso-care.md >"$work/ingest.log" 2>&1 \
  || { cat "$work/ingest.log"; fail "bitb ingest"; }
grep -q '^done' "$work/ingest.log" || { cat "$work/ingest.log"; fail "the document was not indexed"; }
log "ingested in $(($(date +%s) - i0))s"

q='How often must the Zorblax 9000 be descaled?'
a0=$(date +%s%3N)
first="$(ask "$tenant" "$q")" || fail "POST /api/ask"
log "asked in $(($(date +%s%3N) - a0)) ms"
check_answer "$first" "first answer" || fail "wrong answer"

# ---- stop with SIGTERM: a clean exit, every database closed -------------------------------
s0=$(date +%s%3N)
podman stop -t 30 "$name-1" >/dev/null 2>>"$work/podman.log" || fail "podman stop"
stop_ms=$(($(date +%s%3N) - s0))
code="$(podman inspect -f '{{.State.ExitCode}}' "$name-1")"
[ "$code" = "0" ] || fail "exit code ${code} after SIGTERM"
podman logs "$name-1" 2>&1 | grep -q 'every database closed' || fail "no clean shutdown in the logs"
mount="$(podman volume inspect -f '{{.Mountpoint}}' "$volume")"
ls "$mount" | grep -q "${tenant}.db" || fail "the tenant's file is not in the volume"
if ls "$mount" | grep -q -- '-wal$'; then fail "a -wal file was left: a database was not closed"; fi
log "stopped by SIGTERM in ${stop_ms} ms, exit 0, no -wal left"

# ---- second container, same volume: the data survived -------------------------------------
start "$name-2" -e DEMO_TENANT=false
podman exec "$name-2" bitb tenant:list | grep -q "$tenant" || fail "the tenant is gone after restart"
second="$(ask "$tenant" "$q")" || fail "POST /api/ask after restart"
check_answer "$second" "after restart" || fail "wrong answer after restart"
podman stop -t 30 "$name-2" >/dev/null 2>>"$work/podman.log"

log "PASS (build ${build_s}s, total $(($(date +%s) - t0))s)"
