"""The limits a connection lives under: admission, rate limit, addresses, origins."""
