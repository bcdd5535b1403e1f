# The session host: a long-running process that owns the WhatsApp clients (whatsapp-web.js + Debian Chromium).
# Build: docker build -t whatsapp-service-session-host .
# The functions are not in this image: they are deployed to AWS Lambda by `serverless deploy`.
FROM node:20-bookworm-slim

# Debian's Chromium (never Puppeteer's download), the fonts WhatsApp Web needs (emoji, CJK, Latin), and tini as
# PID 1 so that the Chromium processes whatsapp-web.js leaves behind are reaped and signals reach Node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      chromium fonts-liberation fonts-noto-color-emoji fonts-noto-cjk fonts-freefont-ttf tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PUPPETEER_SKIP_DOWNLOAD=true \
    CHROME_PATH=/usr/bin/chromium \
    DATA_DIR=/data/sessions \
    WA_ENGINE=webjs \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

WORKDIR /app
COPY package.json package-lock.json .puppeteerrc.cjs ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY contract ./contract
COPY lib ./lib
COPY session-host ./session-host

# A user of its own: Chromium runs without root, and the session data belongs to it.
RUN groupadd --system app && useradd --system --gid app --home-dir /home/app --create-home app \
 && mkdir -p /data/sessions && chown -R app:app /data /home/app
USER app
ENV HOME=/home/app
VOLUME ["/data/sessions"]

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

# The same command the tests start (scripts/support/stack.ts). ECS stops a task with SIGTERM: the host finishes the
# commands in flight and closes every client within SHUTDOWN_TIMEOUT_MS (keep stopTimeout above it).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "session-host/main.ts"]
