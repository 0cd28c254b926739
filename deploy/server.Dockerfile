# The servers for where no container registry is reachable (issue 16), one image per server,
# made of the distributions the local stack assembles from Maven Central (.stack/dist: run
# `deh-stack up --servers-only` once) and started by the stack's own launcher, so that a
# container's Kafka, mongo-java-server or OpenSearch is configured exactly like the local one:
#   docker build -f deploy/server.Dockerfile --build-arg SERVER=kafka --build-arg DIST=kafka-4.1.1 -t deh-kafka:4.1.1 .
# DEH_STACK_HOME (a volume) holds its data and settings; DEH_STACK_HOST where it listens,
# DEH_STACK_ADVERTISED_HOST where Kafka's clients reach it, DEH_<NAME>_PORT its ports, and
# DEH_KAFKA_ADMIN_PASSWORD turns SASL/SCRAM and ACLs on.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ARG UV_VERSION=0.13.9
RUN python3 -m pip install --no-cache-dir --break-system-packages "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN python3 -m uv sync --frozen --no-dev --package deh-stack --no-editable \
    --python-preference only-system --compile-bytecode

FROM ${BASE}
# A JDK (the Mongo launcher is compiled at start): the base bootstrapped here has Debian's; on
# the official Python image it is installed from Debian's packages.
RUN command -v javac >/dev/null || (apt-get update && apt-get install -y --no-install-recommends \
    openjdk-17-jdk-headless && rm -rf /var/lib/apt/lists/*)
RUN useradd --system --uid 10001 --no-create-home deh && mkdir -p /var/lib/deh && chown 10001 /var/lib/deh
COPY --from=build /src/.venv /src/.venv
ARG SERVER
ARG DIST
COPY .stack/dist/${DIST} /opt/deh/dist/${DIST}
# Readable by the server's user (some of OpenSearch's files are its owner's only); only those change.
RUN find /opt/deh/dist ! -perm -a+r -exec chmod a+rX {} +
ENV SERVER=${SERVER} PATH="/src/.venv/bin:${PATH}" PYTHONDONTWRITEBYTECODE=1 \
    DEH_STACK_HOME=/var/lib/deh DEH_STACK_CACHE=/opt/deh/dist
VOLUME /var/lib/deh
USER 10001
HEALTHCHECK --interval=5s --timeout=15s --start-period=180s CMD ["sh", "-c", "exec deh-stack ready \"${SERVER}\""]
CMD ["sh", "-c", "exec deh-stack serve \"${SERVER}\""]
