# The APIs of the local stack in a container: serverless offline (HTTP API :3000, WebSocket API :3001) running the
# same handlers as `npm start`, bound to 0.0.0.0 so that the other containers reach it by service name and the
# machine through the published ports. Used by docker-compose.yml; not deployed anywhere.
FROM node:22-bookworm-slim
WORKDIR /app
ENV PUPPETEER_SKIP_DOWNLOAD=true \
    SLS_TELEMETRY_DISABLED=1 \
    SLS_NOTIFICATIONS_MODE=off \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
COPY package.json package-lock.json .puppeteerrc.cjs ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY tsconfig.json serverless.yml ./
COPY infra ./infra
COPY contract ./contract
COPY lib ./lib
COPY functions ./functions
RUN chown -R node:node /app
USER node
EXPOSE 3000 3001
CMD ["node_modules/.bin/serverless", "offline", "start", "--stage", "local", "--host", "0.0.0.0"]
