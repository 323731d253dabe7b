"""From request text to SQL and back: the query-string grammar, the parsed read, the Core
statement, embeds, writes, keyset cursors, and the encoding of the values that come back.

Nothing here imports Flask (tests/test_layout.py checks): these modules turn text into values
and values into statements, so they run the same in a view, a CLI command or a unit test.
Failures are ApiError (api_error.py); webapp/errors.py turns them into responses.
"""
