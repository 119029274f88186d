"""Development tools for the media node: an aiortc WHIP client, synthetic encoded
sources, an in-process node, media-token minting, and the ``hotpath``/``loadcheck``
measurements. Tests, benchmarks and tools import these; :mod:`media_node` never does,
and the node's container image does not carry them."""
