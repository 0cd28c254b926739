# The official OpenSearch image plus Polish analysis for the practices index: OpenSearch's own
# analysis-stempel plugin (analyzer `polish`). The local node has Morfologik as well, which finds
# more inflected forms; the practices service uses whichever the node has (best first) and falls
# back to standard analysis with a warning when it has neither.
FROM opensearchproject/opensearch:2.19.6
RUN /usr/share/opensearch/bin/opensearch-plugin install --batch analysis-stempel
