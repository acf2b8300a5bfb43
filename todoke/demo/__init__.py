"""The local federation demo: sandbox, hub and node as real processes on loopback.

``processes`` starts and stops the services (also used by the end-to-end tests),
``population`` makes the deterministic synthetic Yatomi population, ``notices`` writes the two
notices the demo publishes, and ``runner`` ties them together for ``todoke demo``.
"""
