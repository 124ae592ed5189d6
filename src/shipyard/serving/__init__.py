"""The serving engine: models loaded, warmed and batched per version, behind every protocol.

``engine`` follows each served reference and hot-swaps versions; ``batcher`` gathers concurrent requests
into one predict call; ``codecs`` turn each wire protocol's bodies into rows and results back into bodies;
``recorder`` hands what was answered or refused to the prediction log. The HTTP layer that uses them is
``shipyard.server``.
"""
