"""The lab's browser pages for projects, under /labs/<slug>/projects/ (one module per topic)."""
