"""The clock: APScheduler only ticks; what is due lives in our tables and is claimed there."""
