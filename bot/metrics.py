"""Prometheus metrics, served at /metrics. Labels never carry people's data."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter(
    "forumbot_updates_handled_total", "Inbound events handled", ["channel", "kind", "outcome"], registry=REGISTRY
)
APOLOGIES = Counter(
    "forumbot_apologies_total", "Events that failed inside forumbot and got the apology", ["channel"],
    registry=REGISTRY,
)
FLOOD = Counter("forumbot_flood_total", "Events over the per-person flood limit", ["channel", "verdict"],
                registry=REGISTRY)
BODY_REFUSED = Counter(
    "forumbot_http_body_refused_total", "HTTP requests refused for a body over the limit", registry=REGISTRY
)
SENT = Counter("forumbot_messages_sent_total", "Messages delivered", ["channel"], registry=REGISTRY)
FAILED = Counter(
    "forumbot_messages_failed_total", "Messages that failed for good", ["channel", "reason"], registry=REGISTRY
)
RETRIED = Counter(
    "forumbot_messages_retried_total", "Send attempts put back for later", ["channel", "reason"], registry=REGISTRY
)
OUTBOX_DEPTH = Gauge("forumbot_outbox_depth", "Messages queued or being sent", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("forumbot_outbox_oldest_seconds", "Age of the oldest queued message", registry=REGISTRY)
