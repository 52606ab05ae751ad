# One image for every deployable, chosen by the command (deploy/container/entrypoint.sh):
#   docker run IMAGE                     the shop API (the default command, `api`)
#   docker run IMAGE payment-gateway     the MockPaymentGateway
#   docker run IMAGE worker              the email worker
#   docker run IMAGE migrate             applies the shop's migrations and exits
#   docker run IMAGE email-jobs list     the admin command for failed email jobs
#
# BASE_IMAGE is any Debian-based Node 24 image with npm and apt-get, such as the official
# node:24-bookworm-slim. scripts/test-container.sh builds on a stand-in it makes itself.
ARG BASE_IMAGE=node:24-bookworm-slim

# Production dependencies, installed once on the builder's platform: none is built for a
# platform (no install scripts, no native addons), so installing under emulation (QEMU, for
# arm64 on an amd64 builder) would only be slower and less reliable. Optional dependencies are
# left out: the embedded PostgreSQL binaries (about 60 MB per platform, used only when DATABASE_URL
# is unset, which production forbids), pg's Cloudflare sockets and the TypeScript that
# graphile-worker's config loader needs only for a graphile.config.ts we do not have.
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS dependencies
WORKDIR /app
# vendor/: connect, rebuilt for ES2018 (see vendor/README.md), installed from these tarballs.
COPY package.json package-lock.json ./
COPY vendor vendor
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# Compiles TypeScript. The output is plain JavaScript, so in a multi-platform build this stage
# runs once, natively, on the builder's platform.
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY vendor vendor
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen gen
COPY src src
COPY templates templates
RUN npm run build

FROM ${BASE_IMAGE}

# tini runs as PID 1, as `docker run --init` would: it passes signals on to node and reaps
# orphaned processes, which PID 1 must do and node does not.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# HOST: every interface, IPv6 and IPv4, so that other containers, the runtime's port mapping
# and probes reach the servers (outside containers they listen on 127.0.0.1 by default).
ENV NODE_ENV=production HOST=::
# Root owns the application, so the process cannot change it; nothing is written at run time
# in production (the database, mail and secrets all come from the environment).
COPY --from=dependencies /app/node_modules node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist dist
COPY deploy/container/entrypoint.sh /usr/local/bin/order-backend

# The official images' `node` user, by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# Shop API (PORT), MockPaymentGateway (PAYMENT_GATEWAY_PORT), email worker health (WORKER_PORT).
EXPOSE 50051 50052 50053
# Checks the port in HEALTHCHECK_PORT, else PORT: set HEALTHCHECK_PORT for the gateway and worker.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/app/dist/src/bin/healthcheck.js"]
ENTRYPOINT ["/usr/bin/tini", "--", "order-backend"]
CMD ["api"]

# Last, so that a new version, commit or date rebuilds nothing above.
ARG BASE_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="order-backend" \
      org.opencontainers.image.description="Order processing backend: shop API, MockPaymentGateway, email worker and migrations, chosen by the command" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
