# syntax=docker/dockerfile:1
# SendOps container images, for building where a registry is reachable (docker/podman/buildah):
#   docker build --target api    -t sendops-api:TAG .      # sendops-api (+ sendops-admin for one-off tasks)
#   docker build --target poller -t sendops-poller:TAG .   # sendops-ingest poll
# Without a registry, `make package` builds the same two images offline from this machine's
# Debian packages into .local/dist/oci (docs/deploy.md). Both run as uid 10001, on debian:bookworm-slim
# (glibc 2.36, the same release as the builder, so the binaries' glibc symbols resolve).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
# The target directory is a cache mount, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sendops-api --bin sendops-ingest --bin sendops-admin \
 && mkdir -p /out \
 && for b in sendops-api sendops-ingest sendops-admin; do strip -o "/out/$b" "target/release/$b"; done

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sendops \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin sendops
ENV RUST_LOG=info
USER 10001:10001

FROM runtime AS poller
COPY --from=build /out/sendops-ingest /usr/local/bin/sendops-ingest
# ECS passes the rest: ["poll", "--queue-url", "https://sqs..."] (infra/cloudformation/api.yaml).
ENTRYPOINT ["sendops-ingest"]
CMD ["poll"]

# Last, so a plain `docker build .` gives the API image.
FROM runtime AS api
COPY --from=build /out/sendops-api /out/sendops-admin /usr/local/bin/
COPY infra/docker/healthcheck /usr/local/bin/healthcheck
ENV SENDOPS_API_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
# No ENTRYPOINT: `aws ecs run-task --overrides` can run ["sendops-admin", "migrate"] in this image.
CMD ["sendops-api"]
