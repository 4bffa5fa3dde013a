"""The core's own types: what the conversation layer, services and adapters agree on.

Adapters and the composition root (`bot.app`) depend on this package; it depends on none of them.
"""
