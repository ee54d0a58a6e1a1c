"""The web console: static assets served by the service itself (no CDN, no build step)."""
