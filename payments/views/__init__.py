"""Payments pages: lab billing, expert earnings, staff, webhooks, the sandbox, appeals."""
