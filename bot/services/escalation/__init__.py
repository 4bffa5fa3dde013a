"""Gaps up the tiers and decisions down: forwarding, digests, who is told, announcements and the web board."""
