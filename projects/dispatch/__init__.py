"""Dispatch (DESIGN.md, flow 5): leases on tasks, drafts, submissions and skips."""
