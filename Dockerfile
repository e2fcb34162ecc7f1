# Signet's production image: the compiled build, production dependencies only, non-root, and
# able to run with a read-only root filesystem (state_dir is a volume).
#   docker build -t signet .
#   docker run --read-only -e SIGNET_CONFIG=/etc/signet/signet.yaml -v ./signet.yaml:/etc/signet/signet.yaml:ro -p 8080:8080 signet
# Node 24 LTS; package.json's engines (^20.19.0 || >=22.12.0) still allow 20 and 22 elsewhere.
ARG NODE_IMAGE=node:24.20.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only: no tsx, no esbuild, no TypeScript. No install scripts needed.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
# SIGNET_HOST: the default 127.0.0.1 is unreachable from outside a container. Nothing else is
# overridden here, so server.port and state_dir in your config file still apply.
ENV NODE_ENV=production SIGNET_HOST=0.0.0.0
# V8's old generation capped at 96 MB: the live heap is ~50 MB even at 1024 connections, and
# without a cap V8 lets garbage grow the heap past the 150 MB RSS budget (npm run soak).
ENV NODE_OPTIONS=--max-old-space-size=96
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY examples ./examples
# The only place Signet writes: state_dir's default, .signet/state (revocations without Redis).
RUN mkdir -p /app/.signet/state && chown -R 1000:1000 /app/.signet
VOLUME ["/app/.signet"]
# The image's "node" user, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# No curl in slim images: Node's fetch. Liveness only (/healthz): see infra/kubernetes for /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SIGNET_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/cli.js", "serve"]
