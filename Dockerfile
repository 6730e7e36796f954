# syntax=docker/dockerfile:1.7
#
# AgentOS SSOT images: one per deployable, every one built from this file.
#
#   docker build --target api -t agentos-ssot/api:0.1.0 .
#
# Targets: api, realtime-gateway, collector, cache-warmer, dispatcher, celery-bridge,
# bullmq-bridge, simulator, and migrate (the one-shot that applies the SQL migrations).
# docker-compose.yml builds them all; docs/operations.md ("Images") says how to push them.
#
# Why one image per service, from one file, rather than one image with a command per service:
# - each image says what it runs: its own CMD (the command `npm start` runs for it), its own
#   port, and a HEALTHCHECK on that port, so `docker run agentos-ssot/collector` is a collector
#   and its health is checked where it listens, whatever the orchestrator forgets to override;
# - one build graph: `npm ci` and `turbo run build` run once for all targets, and every target
#   starts from the same base and node_modules layers, so a node pulls those once and each image
#   adds only its own dist/ (the api also the dashboard's static build);
# - a service's image holds its own code and no other service's.
#
# These images were NOT built on the machine this file was written on (it has no Docker engine);
# test/deploy/dockerfile.test.ts parses this file and checks each target.

# Pinned to an exact release. Pin the digest too when you build for production:
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> …
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    TURBO_TELEMETRY_DISABLED=1 \
    CHECKPOINT_DISABLE=1
WORKDIR /app

# Every workspace's package.json, alone: both installs below are cached until one of them changes.
FROM base AS manifests
COPY package.json package-lock.json ./
COPY packages/contracts/package.json packages/contracts/
COPY packages/runtime/package.json packages/runtime/
COPY packages/db/package.json packages/db/
COPY packages/client/package.json packages/client/
COPY services/api/package.json services/api/
COPY services/realtime-gateway/package.json services/realtime-gateway/
COPY services/collector/package.json services/collector/
COPY services/cache-warmer/package.json services/cache-warmer/
COPY services/dispatcher/package.json services/dispatcher/
COPY services/celery-bridge/package.json services/celery-bridge/
COPY services/bullmq-bridge/package.json services/bullmq-bridge/
COPY services/simulator/package.json services/simulator/
COPY services/dashboard/package.json services/dashboard/

# What the services need at run time, and nothing else:
# - --omit=dev --omit=optional: no build tools, and not the Prisma CLI (an optional peer of
#   @prisma/client): the client is generated at build time and talks to PostgreSQL through
#   @prisma/adapter-pg, with no engine binary;
# - --workspaces --include-workspace-root=false: not the root's own dependencies, which serve the
#   `npm start` launcher (the embedded PGlite database);
# - --ignore-scripts: no install script runs, so nothing is downloaded besides the packages.
# Checked where this was written: the services start and answer /readyz on such a tree (138 MB).
FROM manifests AS deps
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --omit=optional --ignore-scripts --workspaces --include-workspace-root=false

# The whole build: the root postinstall generates the Prisma client (the `prisma-client`
# generator, into packages/db/src/generated) and needs the schema and the scripts it runs.
FROM manifests AS build
COPY packages/db/prisma packages/db/prisma
COPY packages/db/scripts packages/db/scripts
COPY scripts/launcher scripts/launcher
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci
COPY . .
RUN npx turbo run build --output-logs=errors-only

# What every service image shares. Owned by root and read-only to the user that runs it.
FROM base AS runtime
ENV NODE_ENV=production
COPY --from=deps /app ./
COPY --from=build /app/packages/contracts/dist packages/contracts/dist
COPY --from=build /app/packages/runtime/dist packages/runtime/dist
COPY --from=build /app/packages/db/dist packages/db/dist
COPY --from=build /app/packages/db/prisma/migrations packages/db/prisma/migrations
COPY --from=build /app/packages/client/dist packages/client/dist
COPY deploy/docker/healthcheck.cjs deploy/docker/healthcheck.cjs
# The node image's unprivileged user, by number: Kubernetes' runAsNonRoot can only verify a
# numeric USER.
USER 1000:1000
# Exec form everywhere below: node is PID 1 and receives SIGTERM itself (runService in
# packages/runtime/src/shutdown.ts stops within 10 s). No init is needed: no service starts
# child processes.
STOPSIGNAL SIGTERM

FROM runtime AS api
COPY --from=build /app/services/api/dist services/api/dist
# The dashboard's static build, which the api serves at / (CONTRACT §1).
COPY --from=build /app/services/dashboard/serve.cjs services/dashboard/serve.cjs
COPY --from=build /app/services/dashboard/dist services/dashboard/dist
ENV PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/api/dist/index.js"]

FROM runtime AS realtime-gateway
COPY --from=build /app/services/realtime-gateway/dist services/realtime-gateway/dist
ENV PORT=3001
EXPOSE 3001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/realtime-gateway/dist/index.js"]

FROM runtime AS collector
COPY --from=build /app/services/collector/dist services/collector/dist
ENV PORT=3002
EXPOSE 3002
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/collector/dist/index.js"]

FROM runtime AS cache-warmer
COPY --from=build /app/services/cache-warmer/dist services/cache-warmer/dist
ENV PORT=3003
EXPOSE 3003
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/cache-warmer/dist/index.js"]

FROM runtime AS dispatcher
COPY --from=build /app/services/dispatcher/dist services/dispatcher/dist
ENV PORT=3004
EXPOSE 3004
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
# Also holds the dead-letter tool: `node services/dispatcher/dist/cli/dlq.js list`.
CMD ["node", "services/dispatcher/dist/index.js"]

FROM runtime AS celery-bridge
COPY --from=build /app/services/celery-bridge/dist services/celery-bridge/dist
ENV PORT=3005
EXPOSE 3005
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/celery-bridge/dist/index.js"]

FROM runtime AS bullmq-bridge
COPY --from=build /app/services/bullmq-bridge/dist services/bullmq-bridge/dist
ENV PORT=3006
EXPOSE 3006
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/bullmq-bridge/dist/index.js"]

FROM runtime AS simulator
COPY --from=build /app/services/simulator/dist services/simulator/dist
ENV PORT=3007
EXPOSE 3007
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["node", "deploy/docker/healthcheck.cjs"]
CMD ["node", "services/simulator/dist/index.js"]

# The SQL migrations, applied by the repository's own runner: the same rows in _prisma_migrations
# and the same advisory lock as `prisma migrate deploy`, each migration in one transaction, and no
# Prisma CLI or schema-engine binary in the image (docs/operations.md, "Migrations").
FROM runtime AS migrate
HEALTHCHECK NONE
CMD ["node", "packages/db/dist/cli/migrate.js"]
