# syntax=docker/dockerfile:1
# The session host: a long-running process that owns the WhatsApp clients (whatsapp-web.js + Debian Chromium).
# Build: docker build -t whatsapp-service-session-host .   (`npm run deploy` builds it and pushes it to the stack's ECR)
# The functions are not in this image: they are deployed to AWS Lambda by `serverless deploy`.
# Three stages: `build` compiles the TypeScript into one bundle with the dev dependencies; `deps` installs only the
# production dependencies (the packages the bundle leaves external: whatsapp-web.js and Puppeteer); the runtime image
# gets the bundle, those node_modules, Chromium and tini, and runs plain `node`: no TypeScript loader, no npm.

FROM node:22-bookworm-slim AS build
WORKDIR /build
ENV PUPPETEER_SKIP_DOWNLOAD=true
COPY package.json package-lock.json .puppeteerrc.cjs ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts/build-session-host.mjs ./scripts/
COPY contract ./contract
COPY lib ./lib
COPY session-host ./session-host
RUN node scripts/build-session-host.mjs --outdir /build/dist

FROM node:22-bookworm-slim AS deps
WORKDIR /app
ENV PUPPETEER_SKIP_DOWNLOAD=true
COPY package.json package-lock.json .puppeteerrc.cjs ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim

# Debian's Chromium (never Puppeteer's download), the fonts WhatsApp Web needs (emoji, CJK, Latin), and tini as
# PID 1 so that the Chromium processes whatsapp-web.js leaves behind are reaped and signals reach Node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      chromium fonts-liberation fonts-noto-color-emoji fonts-noto-cjk fonts-freefont-ttf tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A user of its own, with a pinned uid/gid: Chromium runs without root, and the session data belongs to it. The EFS
# access point of the AWS stack (infra/stack.yml) writes as this same 10001:10001.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
 && mkdir -p /data/sessions && chown -R app:app /data /home/app

ENV NODE_ENV=production \
    PUPPETEER_SKIP_DOWNLOAD=true \
    CHROME_PATH=/usr/bin/chromium \
    DATA_DIR=/data/sessions \
    WA_ENGINE=webjs \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0 \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    CHROME_NO_SANDBOX=true
# CHROME_NO_SANDBOX=true: Chromium's sandbox (Debian's build) needs unprivileged user namespaces, which the default
# seccomp profiles of Docker and containerd refuse to a process without CAP_SYS_ADMIN, and Fargate allows neither a custom seccomp profile nor SYS_ADMIN; the
# host says so in its log at the first launch. Where a profile that allows them is set (docker run/compose
# `--security-opt seccomp=<profile>`, ECS on EC2), set CHROME_NO_SANDBOX=false: the image's user 10001 then runs
# Chromium sandboxed. docs/api.md, "Security".

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /build/dist ./dist

USER app
ENV HOME=/home/app
VOLUME ["/data/sessions"]

EXPOSE 8080
# For `docker run` and compose. ECS ignores it: infra/stack.yml repeats it in the task definition.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

# The bundle `npm run build:session-host` makes (test/unit/container.test.ts runs it the same way). ECS stops a task
# with SIGTERM: the host finishes the commands in flight and closes every client within SHUTDOWN_TIMEOUT_MS (the
# task definition's stopTimeout is above it).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--enable-source-maps", "dist/main.mjs"]
