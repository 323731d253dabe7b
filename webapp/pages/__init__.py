"""The HTML pages: index, table grid, row, structure and schema diagram, exports, SQL page."""
