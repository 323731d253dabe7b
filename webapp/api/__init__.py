"""The JSON API under /api (PostgREST's protocol): reads, writes, embeds, cursors, OpenAPI."""
