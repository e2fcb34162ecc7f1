FROM node:22-alpine
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY examples ./examples
USER node
ENV SIGNET_HOST=0.0.0.0 NODE_ENV=production
EXPOSE 8080
CMD ["node", "bin/signet.js", "serve"]
