# syntax=docker/dockerfile:1
# BiTB: one image with the embedded defaults (local embeddings, extractive answers).
#
#   docker build -t bitb .
#   docker run --init -p 3000:3000 -v bitb-data:/data bitb
#
# The base images are build arguments, so an air-gapped build can use local ones
# (scripts/make-base-images.sh makes them from Debian packages and npm's node binary).
# Targets: `runtime` (the default, self-hosting) and `fly` (LiteFS on Fly.io).
# BUILD_IMAGE needs node 22 + npm + python3, make and g++ (better-sqlite3 compiles from source
# when no prebuilt binary can be downloaded); RUNTIME_IMAGE needs only node 22.
ARG BUILD_IMAGE=node:22-bookworm
ARG RUNTIME_IMAGE=node:22-bookworm-slim
# Only the `fly` target uses it.
ARG LITEFS_IMAGE=flyio/litefs:0.5.14

# ---- build: dependencies with compilers, the app, the command line, then production deps --
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
# ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script would fetch CUDA parts
# (npm 10 runs it; npm 11 leaves it unapproved). Its CPU binaries are inside the package.
ENV CI=true \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false \
    ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# onnxruntime-node ships its binaries for every platform (about 290 MB); the image keeps only
# its own platform's (decision 041). TypeScript (23 MB) is only an optional peer dependency of
# @react-router/node (for type generation), which `npm prune` keeps because the dev tree has it:
# nothing in the image runs it (decision 046).
RUN npm run build && npm prune --omit=dev \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver \
 && ! node -e 'require.resolve("typescript")' 2>/dev/null \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && for dir in "$ort"/*/*; do \
      [ "${dir#"$ort"/}" = "$keep" ] || rm -rf "$dir"; \
    done \
 && find "$ort" -mindepth 1 -type d -empty -delete \
 && test -f "$ort/$keep/onnxruntime_binding.node"

# ---- app: node, the built app and its production dependencies; nothing else --------------
FROM ${RUNTIME_IMAGE} AS app
# The unprivileged user the server runs as (the official node images call uid 1000 "node").
ARG APP_UID=1000
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
# `bitb <command>` runs the operator CLI (as the app's user, also from a root shell).
RUN if ! getent passwd "${APP_UID}" >/dev/null; then \
      useradd --uid "${APP_UID}" --user-group --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin bitb; \
    fi \
 && mkdir -p /data \
 && chown "${APP_UID}:${APP_UID}" /data \
 && printf '%s\n' '#!/bin/sh' \
      'if [ "$(id -u)" = 0 ]; then' \
      "  exec setpriv --reuid=${APP_UID} --regid=${APP_UID} --clear-groups node /app/build/cli.js \"\$@\"" \
      'fi' \
      'exec node /app/build/cli.js "$@"' > /usr/local/bin/bitb \
 && chmod 0755 /usr/local/bin/bitb
COPY --from=build /app/package.json /app/server.js /app/README.md ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
# The demo tenant answers from the README and docs/.
COPY --from=build /app/docs ./docs

# ---- fly: the app under LiteFS on Fly.io (fly.toml builds this target; see litefs.yml) -----
# LiteFS mounts its FUSE file system as root, then runs the migrations and the server as the
# app's user. Not built by default: only `--target fly` needs the LiteFS image and fuse3.
FROM ${LITEFS_IMAGE} AS litefs
FROM app AS fly
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=litefs /usr/local/bin/litefs /usr/local/bin/litefs
COPY litefs.yml /etc/litefs.yml
ENV DATA_DIR=/litefs
ENTRYPOINT ["litefs", "mount"]

# ---- runtime (the default target): the self-hosted image ---------------------------------
FROM app AS runtime
ARG APP_UID=1000
USER ${APP_UID}:${APP_UID}
# Tenant databases, the control database and backups (unless BACKUP_DIR points elsewhere).
VOLUME ["/data"]
EXPOSE 3000
# server.js handles SIGTERM itself (finishes requests and ingestion steps within
# SHUTDOWN_TIMEOUT_MS, then closes every database), so it is safe as PID 1; `--init` still
# reaps any stray child process.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "server.js"]
