"""Surveys of a forum's members: sending, answering, results."""
