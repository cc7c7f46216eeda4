# Any Nexus service as an image: docker build -f infra/docker/service.Dockerfile --build-arg APP=gateway .
# APP is one of: standalone, gateway, api. Multi-stage: build with the whole workspace, ship only
# the service's bundle (workspace packages are inlined) and its production dependencies.
FROM node:20-bookworm-slim AS build
ARG APP
WORKDIR /src
RUN npm install -g pnpm@10
COPY . .
RUN test -n "$APP" \
 && pnpm install --frozen-lockfile \
 && pnpm --filter "@nexus/${APP}" run build \
 && pnpm --filter "@nexus/${APP}" deploy --prod --legacy /out \
 && rm -rf /out/dist && cp -r "apps/${APP}/dist" /out/dist

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs (V8's GC and compiler threads, libuv's
# pool) an arena of its own, up to 8 per core, and each keeps what a connect storm left in it;
# two arenas cut a gateway's resident memory by about 250 bytes per idle socket (README,
# Performance; `pnpm bench` measures the gateways with the same setting).
ENV NODE_ENV=production PORT=4000 NEXUS_DATA_DIR=/data MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /out /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
