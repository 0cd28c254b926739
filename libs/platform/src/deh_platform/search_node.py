"""What the OpenSearch node can do, asked of the node itself: which of the wanted language
analyses (deh_platform.text_analysis) it can build."""

from __future__ import annotations

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

from deh_platform.text_analysis import analysis_chain, wanted_analyses


async def usable_analyses(search: AsyncOpenSearch) -> set[str]:
    """The names of the wanted analyses that this node can build, both chains of each, asked of
    the node itself (`_analyze` refuses a filter that no installed module provides)."""
    usable = set()
    for analysis in wanted_analyses():
        try:
            for chain in (analysis.exact, analysis.folded):
                await search.indices.analyze(body={"text": "probe", **analysis_chain(chain)})
        except RequestError:
            continue
        usable.add(analysis.name)
    return usable
