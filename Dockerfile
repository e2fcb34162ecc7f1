FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-alpine
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY examples ./examples
# Revocations live here when no Redis is configured (state_dir); mount a volume to keep them.
RUN mkdir -p /app/.signet && chown node:node /app/.signet
USER node
ENV SIGNET_HOST=0.0.0.0 NODE_ENV=production
EXPOSE 8080
CMD ["node", "dist/cli.js", "serve"]
