# ImageProcessor services on Debian 12 (the library versions the code is
# tested with). The build stage runs the same build as scripts/test and
# scripts/up (scripts/build release); the runtime stage holds only the runtime
# libraries, the four service binaries and imgctl (the health probe), and runs
# as an unprivileged user. docker-compose.yml picks the service by `command`.
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build pkg-config gcc g++ make protobuf-c-compiler libprotobuf-c-dev libnng-dev \
      librdkafka-dev libpq-dev libcurl4-openssl-dev libvips-dev libmicrohttpd-dev \
      libjansson-dev libssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build release \
 && mkdir -p /out \
 && for s in gateway metadata-svc storage-svc processor; do \
      install -m 0755 "build/release/$s/$s" /out/; \
    done \
 && install -m 0755 build/release/common/imgctl /out/

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libprotobuf-c1 libnng1 librdkafka1 libpq5 libcurl4 libvips42 libmicrohttpd12 \
      libjansson4 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin imageproc
COPY --from=build /out/ /usr/local/bin/
COPY sql/ /app/sql/
WORKDIR /app
ENV MALLOC_ARENA_MAX=2
USER imageproc
CMD ["gateway", "--help"]
