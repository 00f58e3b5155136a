# syntax=docker/dockerfile:1
# The app as a container: `docker compose up` runs it with PostgreSQL (compose.yaml).

# --- build: the full toolchain compiles TypeScript and better-sqlite3's native module ----------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY db ./db
COPY src ./src
# dist/ holds the compiled app and migrations; then only production dependencies are kept (the native
# module built above stays, so the runtime image needs no compiler).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled app and production dependencies only, as an unprivileged user ------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATABASE_PATH=/data/agent.db \
    KNOWLEDGE_DIR=/app/knowledge
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY knowledge ./knowledge
# SQLite (when DATABASE_URL is unset) lives on this volume; the image's files stay read-only to the app.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# PORT: Slack's requests and GET /healthz. Set METRICS_PORT (e.g. 9464) to serve GET /metrics too.
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--optimize-for-size", "--max-semi-space-size=2", "dist/app.mjs"]
