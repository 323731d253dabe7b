-- 003_shapes_views.sql
-- Views over 001's tables, after 002's rows so the materialized view has data (and one
-- materialized view left unpopulated on purpose), then ANALYZE so the index page shows estimates rather than "unknown".

-- A plain view joining across a composite key: no key of its own, so no row links.
CREATE VIEW warehouse.stock_overview AS
SELECT p.sku, p.name, s.site_code, s.on_hand, p.price * s.on_hand AS stock_value
FROM warehouse.products p
JOIN warehouse.stock_levels s ON s.sku = p.sku;

COMMENT ON VIEW warehouse.stock_overview IS 'Stock value per product and site (price × on hand).';

-- A view with a spaced, mixed-case name in the spaced schema, reading the other schema.
CREATE VIEW "Ops Data"."Scans per Site" AS
SELECT sc.site_code AS "Site", count(*) AS "Scans", max(s.scanned_at) AS "Last scan"
FROM "Ops Data".scans s
JOIN "Ops Data".scanners sc ON sc.mac = s.scanner_mac
GROUP BY sc.site_code;

-- A materialized view with a spaced, mixed-case name and mixed-case columns.
CREATE MATERIALIZED VIEW "Ops Data"."Daily Moves" AS
SELECT (moved_at AT TIME ZONE 'UTC')::date AS "Day", kind, count(*) AS moves,
       sum("Qty") AS "Total Qty"
FROM warehouse."Stock Moves"
GROUP BY 1, 2;

COMMENT ON MATERIALIZED VIEW "Ops Data"."Daily Moves" IS 'Moves per day and kind; <em>refresh</em> after loading.';

-- A materialized view created WITH NO DATA and never refreshed, as real schemas often have
-- them: reading it fails (55000) until someone runs REFRESH MATERIALIZED VIEW.
CREATE MATERIALIZED VIEW "Ops Data"."Pending Restock" AS
SELECT s.sku, s.site_code, s.on_hand
FROM warehouse.stock_levels s
WHERE s.on_hand < 5
WITH NO DATA;

COMMENT ON MATERIALIZED VIEW "Ops Data"."Pending Restock" IS 'Filled by the nightly job (REFRESH).';

ANALYZE warehouse.categories, warehouse.sites, warehouse.products, warehouse.stock_levels,
        warehouse.bins, warehouse.price_history, warehouse."Stock Moves", warehouse."Q&A #1? 50%",
        "Ops Data".scanners, "Ops Data".scans, "Ops Data".cycle_counts,
        "Ops Data"."Audit Trail", "Ops Data"."Daily Moves";
