"""The photo store: sniff, decode, normalise and keep photos and their derived copies (no Flask, no DB)."""
