"""A forum's meetings: the calendar it keeps (schedule) and the outcomes the lead records (outcomes)."""
