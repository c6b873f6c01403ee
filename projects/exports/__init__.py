"""Dataset exports: streamed JSONL / CSV / Parquet with provenance, a manifest and a card."""
