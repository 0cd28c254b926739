# The official OpenSearch image plus the Polish hunspell dictionary the practices index needs.
FROM debian:12-slim AS dictionaries
RUN apt-get update && apt-get install -y --no-install-recommends hunspell-pl && rm -rf /var/lib/apt/lists/*

FROM opensearchproject/opensearch:2.19.4
COPY --from=dictionaries /usr/share/hunspell/pl_PL.aff /usr/share/hunspell/pl_PL.dic /usr/share/opensearch/config/hunspell/pl_PL/
