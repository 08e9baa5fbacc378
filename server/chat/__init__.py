"""The chat itself: its contract, who gets what, and how messages are batched."""
