# syntax=docker/dockerfile:1
# One image per Holdfast service, built from the whole workspace:
#   docker build --build-arg SERVICE=gateway -t holdfast/gateway .
# SERVICE names a directory under services/; the container runs services/$SERVICE/dist/main.js and is
# configured only through environment variables (docs/configuration.md).
# The Node.js version matches scripts/versions.env (NODE_VERSION); change both together.
ARG NODE_IMAGE=node:24.21.0-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig*.json ./
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
RUN npx tsc -b
RUN npm prune --omit=dev --no-audit --no-fund
# Gather only what runs: each workspace's package.json and dist/, in the same layout as the source tree
# (node_modules/@holdfast/* are relative symlinks to ../../libs/* and ../../services/*).
RUN set -eu; mkdir -p /out; cp package.json /out/; \
    for pkg in libs/*/ services/*/; do \
      [ -f "${pkg}package.json" ] || continue; \
      mkdir -p "/out/${pkg}"; cp "${pkg}package.json" "/out/${pkg}"; \
      if [ -d "${pkg}dist" ]; then cp -R "${pkg}dist" "/out/${pkg}"; fi; \
    done

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /out/ ./
ARG SERVICE
ENV SERVICE=${SERVICE}
USER node
# exec: node replaces the shell, so SIGTERM/SIGINT from `docker stop` or Kubernetes reach it directly.
CMD ["sh", "-c", "exec node \"services/${SERVICE:?build with --build-arg SERVICE=<name>}/dist/main.js\""]
