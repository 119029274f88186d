"""The private parts of aiortc, aioice and pylibsrtp the node relies on, one module per
library, so that nothing else in :mod:`media_node` reaches into them.

Each module lists what it relies on in ``RELIED_ON``;
tests/unit/test_media_node_internals.py checks every name against the pinned versions
of requirements.txt and fails, naming the attribute and the pin, when one is gone.
"""
