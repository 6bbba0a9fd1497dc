"""The per-video engine: decode, detect persons, track, analyse faces."""
