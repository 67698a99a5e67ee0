"""The logs service: an activity log of every task change, built from the task events."""
