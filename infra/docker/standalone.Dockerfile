# The standalone node as an image: `docker build -f infra/docker/standalone.Dockerfile .`
# Multi-stage: build with the whole workspace, ship only the bundle and its production deps.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN npm install -g pnpm@10
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm --filter @nexus/standalone run build \
 && pnpm --filter @nexus/standalone deploy --prod --legacy /out \
 && cp -r apps/standalone/dist /out/dist

FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=4000 NEXUS_DATA_DIR=/data
WORKDIR /app
COPY --from=build /out /app
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
