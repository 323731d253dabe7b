-- 004_inheritance.sql
-- Table inheritance (INHERITS, not partitioning), two levels deep:
--   warehouse.notes <- warehouse.site_notes <- warehouse.urgent_notes
-- A child has its parent's columns and its own; it gets neither the parent's primary key
-- nor its foreign keys, so each declares its own. Reading the parent reads its
-- children's rows too.

CREATE TABLE warehouse.notes (
    id      integer  PRIMARY KEY,
    body    text     NOT NULL,
    author  text
);

COMMENT ON TABLE warehouse.notes IS 'Notes on anything; site notes (and urgent ones) inherit from it.';

CREATE TABLE warehouse.site_notes (
    site_code  text  NOT NULL REFERENCES warehouse.sites (code),
    PRIMARY KEY (id)
) INHERITS (warehouse.notes);

COMMENT ON TABLE warehouse.site_notes IS 'Notes about one site (inherits warehouse.notes).';

CREATE TABLE warehouse.urgent_notes (
    due  date  NOT NULL,
    PRIMARY KEY (id)
) INHERITS (warehouse.site_notes);

COMMENT ON TABLE warehouse.urgent_notes IS 'Site notes with a deadline (inherits warehouse.site_notes).';

INSERT INTO warehouse.notes (id, body, author) VALUES (1, 'Recount the bins', 'ana');
INSERT INTO warehouse.site_notes (id, body, author, site_code) VALUES (2, 'Gate code changed', 'ben', 'AMS-1');
INSERT INTO warehouse.urgent_notes (id, body, author, site_code, due)
    VALUES (3, 'Roof leaks over aisle 4', 'cy', 'LON/3', '2026-01-31');

ANALYZE warehouse.notes, warehouse.site_notes, warehouse.urgent_notes;
