"""Reads for the staff vetting console (staff only: callers check first)."""
