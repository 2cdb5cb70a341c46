"""Patient data over time: purged after its retention, re-sealed under a new key on demand."""
