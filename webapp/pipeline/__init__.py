"""From request text to SQL: the query-string grammar, the parsed read, and the Core statement.

Nothing here imports Flask (tests/test_layout.py checks): these modules turn text into values
and values into statements, so they run the same in a view, a CLI command or a unit test.
"""
