# ImageProcessor services on Debian 12 (the library versions the code is
# tested with). The build stage runs the same build as scripts/test and
# scripts/up (scripts/build release), limited to the four services and
# imgctl (no cache mount: Debian's docker-compose 1.29 builds with the
# classic builder, which has none; the packages are a layer of their own,
# so a source change costs only the compile, well under a minute). The
# runtime stage holds only the runtime libraries (no compiler, no -dev
# package), the font the watermark is drawn with, curl (the HTTP health
# probe), the four service binaries, imgctl (the RPC health probe and admin
# tool) and the page (web/ in /app/web, which the Helm chart's nginx copies
# at start). It runs as the unprivileged user imageproc (uid 10001) and
# writes nothing under the root filesystem, so it runs read-only; /tmp is
# the only scratch space (fontconfig's cache goes there). docker-compose.yml
# and the Helm chart pick the service by its command (gateway, metadata-svc,
# storage-svc, processor).
#
# tests/container builds this file with podman and runs the services from
# it; the base images are Debian's (debian:12 and debian:12-slim).
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build pkg-config gcc g++ make protobuf-c-compiler libprotobuf-c-dev libnng-dev \
      librdkafka-dev libpq-dev libcurl4-openssl-dev libvips-dev libmicrohttpd-dev \
      libjansson-dev libssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build release gateway metadata-svc storage-svc processor imgctl \
 && mkdir -p /out \
 && for s in gateway metadata-svc storage-svc processor; do \
      install -m 0755 "build/release/$s/$s" /out/; \
    done \
 && install -m 0755 build/release/common/imgctl /out/ \
 && rm -rf build

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libprotobuf-c1 libnng1 librdkafka1 libpq5 libcurl4 libvips42 libmicrohttpd12 \
      libjansson4 libssl3 ca-certificates curl fonts-dejavu-core \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin imageproc
COPY --from=build /out/ /usr/local/bin/
COPY sql/ /app/sql/
COPY web/ /app/web/
WORKDIR /app
ENV MALLOC_ARENA_MAX=2 \
    XDG_CACHE_HOME=/tmp/cache
USER 10001:10001
CMD ["gateway", "--help"]
