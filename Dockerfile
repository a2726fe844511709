# syntax=docker/dockerfile:1
# One image per service: docker build --build-arg SERVICE=ingress|egress -t minitoolstream-<service>:<tag> .
# scripts/build-image.sh wraps this and imports the result into k3s.

ARG NODE_IMAGE=node:22.21.1-bookworm-slim

# better-sqlite3 is a production dependency with a native addon: both install steps compile it.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# postinstall applies these to node_modules (patch-package); npm ci fails if one does not apply.
COPY patches ./patches

FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY gen ./gen
COPY services ./services
RUN npm run build

FROM toolchain AS production-deps
RUN npm ci --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Fails the build early on a SERVICE without an entry point (or none given).
RUN test -f "dist/services/${SERVICE}/main.js"
# The image's unprivileged `node` user (uid 1000); the manifests run it with a read-only root.
USER node
EXPOSE 50051 50052
# exec: node becomes PID 1 and receives SIGTERM itself, which starts the graceful drain.
CMD ["/bin/sh", "-c", "exec node \"dist/services/${SERVICE}/main.js\""]
