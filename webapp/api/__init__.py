"""The JSON API under /api (PostgREST's protocol): its routes, its HTTP headers, OpenAPI."""
