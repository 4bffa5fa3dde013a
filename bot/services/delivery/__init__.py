"""Messages to people: the outbox, notices, held messages, and what happens when a channel cannot deliver."""
