"""The embedded AWS: the real template, ASL and handlers on moto, with a local Lambda runtime.

Entry points: :class:`thermostat.local.session.LocalAws` (Python) and ``thermostat local run`` (CLI,
:mod:`thermostat.local.cli`). Nothing heavy is imported here, so the CLI starts fast. See docs/local.md.
"""
