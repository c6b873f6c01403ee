"""The quality engine: gold scoring, agreement, calibration, consensus, adaptive overlap,
behaviour signals, per-expert quality scores and the pause rule (DESIGN.md, flow 6)."""
