"""Agenda items and raised issues: proposals, the lead's choices, issues and their history, exports."""
