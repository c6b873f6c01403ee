"""The staff vetting console: credential queue and decisions, qualification tests, grading."""
