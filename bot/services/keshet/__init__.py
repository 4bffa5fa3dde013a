"""KeShet tri-sector partnerships: the process tracker, choosing the field, the ledger and the self-assessment."""
