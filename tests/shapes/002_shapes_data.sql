-- 002_shapes_data.sql
-- Rows for 001_shapes.sql: a few hand-written rows per table, most of them hostile
-- on purpose, and ~2,500 generated "Stock Moves" so table pages have many pages.
-- Everything is deterministic: explicit keys and timestamps, no random(), no now().
-- tests/test_shapes.py names several of these values; change both together.
--
-- The hostile values, and what each one tests:
--   <script>alert(1)</script>, "><img src=x onerror=alert(1)>   HTML escaping in text and attributes
--   tmpl:{{ 7*7 }}:{% raw %}x{% endraw %}:end                  values are never rendered as templates
--   quotes of every kind, backslashes                          attribute quoting
--   tabs, newlines, CR, VT, FF, ESC, DEL, RLO, ZWJ             control characters pass through
--   שלום, 👩‍💻, 🇳🇱                                              right-to-left text and multi-code-point emoji
--   a 10,000-character description                             cells cut long text
--   sku 'AB/12 ?size=L&colour=red#2 + 50%, final'              links to a row must URL-escape its key
--   sku '  padded sku  ', sku 'not.eq.null'                    keys that get stripped or parsed as grammar
--   a jsonb value holding </script>                            JSON inside HTML

SET LOCAL timezone = 'UTC';

-- ---------------------------------------------------------------------------
-- categories: a tree three deep, names needing escaping
-- ---------------------------------------------------------------------------

INSERT INTO warehouse.categories (id, parent_id, name, "group") VALUES
    (1, NULL, 'All goods',                 'root'),
    (2, 1,    'Tools & <Hardware>',        'a'),
    (3, 2,    'Drills "pro" ''quoted''',   'a'),
    (4, 1,    'שלום קטגוריה 👩‍💻',          NULL);

SELECT setval(pg_get_serial_sequence('warehouse.categories', 'id'), 4);

-- ---------------------------------------------------------------------------
-- sites: text keys with a space, a slash and a question mark
-- ---------------------------------------------------------------------------

INSERT INTO warehouse.sites (code, name, country, network, gateway, location, opens, closes) VALUES
    ('AMS-1', 'Amsterdam & Co',            'NL',  '10.1.0.0/16',    '10.1.0.1',       point(4.90, 52.37), '06:30', '22:00'),
    ('BER 2', 'Berlin "Süd"',              'DEU', '192.168.0.0/24', '192.168.0.1/24', point(13.40, 52.52), '07:00', '19:30:15'),
    ('LON/3', 'London <docks>',            'GBR', '2001:db8::/32',  '2001:db8::1',    point(-0.12, 51.50), NULL,    NULL),
    ('DXB?4', 'Dubai مستودع / Tel Aviv שלום', 'ARE', NULL,           NULL,             NULL,               '00:00', '23:59:59.999999');

-- ---------------------------------------------------------------------------
-- products: one row per hostile value, plus a plain one and an all-NULL one
-- ---------------------------------------------------------------------------

INSERT INTO warehouse.products
    (sku, barcode, category_id, name, description, price, currency, tags, bin_counts,
     attributes, raw_feed, image, pack_sizes, shelf_life, available_on, discontinued, created_at)
VALUES
    -- A plain row, so something on each page looks normal.
    ('DRILL-100', '2000000000015', 3, 'Cordless drill 18V', 'Two batteries, one charger.',
     129.9900, 'EUR', '{tools,power}', '{4,0,12}',
     '{"brand": "Acme", "specs": {"voltage": 18, "chuck": {"mm": 13, "keyless": true}}}',
     '{"feed": "acme", "ok": true, "ok": false}',
     NULL, '[1,10)', '2 years', '2024-02-01', false, '2024-01-05 09:00:00+01'),

    -- The URL-hostile key: / ? & # % + spaces and a comma. A link that does not
    -- escape it loses everything after '#' and turns '+' into a space.
    ('AB/12 ?size=L&colour=red#2 + 50%, final', '2000000000022', 2, 'Awkward key & co',
     'Its key needs URL-escaping everywhere.',
     0.0001, 'GBP', '{"a,b","c d","{braces}"}', '{1,NULL,3}',
     '{"path": "/a/b?c=d&e=f#g", "percent": "100%"}',
     '[1, "two", {"three": 3}]',
     (SELECT decode(string_agg(lpad(to_hex(b % 256), 2, '0'), '' ORDER BY b), 'hex')
      FROM generate_series(0, 4095) AS b),  -- 4 KB: every byte value, NULs and '<' included
     '(,5]', '1 year 2 mons 3 days 04:05:06.789', '2024-02-29', false, '2024-01-06 10:00:00+00'),

    ('XSS-1', '2000000000039', 2, '<script>alert(1)</script>',
     '"><img src=x onerror=alert(1)>',
     1.5000, 'EUR', '{"<script>alert(1)</script>","\"><img src=x onerror=alert(1)>"}', '{}',
     '{"note": "<script>alert(1)</script>"}',
     '{"note": "\"><img src=x onerror=alert(1)>"}',
     decode(repeat('3c7363726970743e', 512), 'hex'),  -- 4 KB of '<script>' as bytes
     '[12,)', '-3 days', NULL, false, '2024-01-07 11:00:00+00'),

    ('XSS-2', '2000000000046', 2, '"><img src=x onerror=alert(1)>',
     '<script>alert(1)</script>',
     2.0000, 'EUR', '{}', NULL, NULL, NULL, NULL,
     NULL, '00:00:00.5', NULL, false, '2024-01-08 12:00:00+00'),

    -- Looks like Jinja (and other template languages): must show literally.
    ('TMPL-1', '2000000000053', 1, 'tmpl:{{ 7*7 }}:{% raw %}x{% endraw %}:end',
     '{{ config }} {% for x in range(3) %}{{ x }}{% endfor %} ${7*7} #{7*7} <%= 7*7 %>',
     7.0000, 'EUR', '{"{{ 7*7 }}"}', NULL,
     '{"template": "{{ 7*7 }}"}', NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-09 13:00:00+00'),

    ($$QUOTES$$, '2000000000060', 1,
     $$'single' "double" `back` ‘curly’ “curly” «guillemets» „low“ \backslash \"$$,
     $$It's "quoted" & <tagged>$$,
     3.0000, 'EUR', $${"it's","say \"hi\""}$$, NULL,
     $${"quote": "\"", "apostrophe": "'", "backslash": "\\"}$$, NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-10 14:00:00+00'),

    ('CTRL', '2000000000077', 1,
     E'tab\there\nline two\r\nCRLF \x0b vt \x0c ff \x1b esc \x7f del \u202e rlo \u200d zwj',
     E'first line\n\n\tindented third line',
     4.0000, 'EUR', E'{"tab\there","new\nline"}', NULL,
     E'{"ctrl": "a\\tb\\nc\\u0001d"}', NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-11 15:00:00+00'),

    -- Right-to-left text and emoji built from several code points (ZWJ, flags), in the key too.
    ('שלום-👩‍💻', '2000000000084', 4, 'RTL שלום and emoji 👩‍💻 🇳🇱',
     'مرحبا بالعالم — שלום עולם', 5.0000, 'ILS', '{שלום,👩‍💻}', '{7}',
     '{"שלום": "👩‍💻", "nested": {"emoji": "🇳🇱"}}', '{"rtl": "שלום"}', NULL,
     '[5,6]', '1 day', '2025-12-31', false, '2024-01-12 16:00:00+02'),

    ('LONG', '2000000000091', 1, 'Ten thousand characters', repeat('0123456789', 1000),
     6.0000, 'EUR', ARRAY[repeat('x', 2000)], NULL, NULL, NULL,
     decode(repeat('00ff', 3000), 'hex'),  -- 6 KB
     NULL, NULL, NULL, false, '2024-01-13 17:00:00+00'),

    -- </script> inside jsonb: JSON placed in a <script> block must escape it.
    ('JSON-1', '2000000000107', 1, 'JSON with a closing script tag',
     NULL, 8.0000, 'EUR', '{}', NULL,
     '{"html": "</script><script>alert(1)</script>",
       "big": 123456789012345678901234567890,
       "nested": {"a": [1, {"b": "{{ 7*7 }}"}, null], "empty": {}, "deeper": {"x": {"y": {"z": [[]]}}}},
       "unicode": "שלום 👩‍💻"}',
     '{"html": "</script>"}', NULL,
     NULL, NULL, NULL, false, '2024-01-14 18:00:00+00'),

    -- Keys a careless parser strips or reads as grammar.
    ('  padded sku  ', '2000000000114', 1, 'Leading and trailing spaces in the key',
     NULL, 9.0000, 'EUR', '{}', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-15 19:00:00+00'),
    ('not.eq.null', '2000000000121', 1, 'A key that reads like a filter',
     NULL, 10.0000, 'EUR', '{}', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-16 20:00:00+00'),

    -- Discontinued (outside the partial index), an empty range, a two-dimensional array.
    ('DISC-1', '2000000000138', 3, 'Discontinued drill', NULL,
     0, 'USD', '{}', '{{1,2},{3,4}}', '{}', '{}', '\x', 'empty', '0', '1999-12-31', true,
     '1999-12-31 23:59:59.999999+00'),

    -- Every nullable column NULL.
    ('NULLS', '2000000000145', NULL, 'All optional columns empty', NULL,
     NULL, 'EUR', '{}', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, false, '2024-01-17 21:00:00+00');

-- ---------------------------------------------------------------------------
-- stock_levels, bins: composite keys made of the hostile text keys
-- ---------------------------------------------------------------------------

INSERT INTO warehouse.stock_levels (sku, site_code, on_hand) VALUES
    ('DRILL-100',                                'AMS-1', 40),
    ('DRILL-100',                                'BER 2', 12.5),
    ('AB/12 ?size=L&colour=red#2 + 50%, final', 'LON/3', 3),
    ('AB/12 ?size=L&colour=red#2 + 50%, final', 'AMS-1', 0),
    ('שלום-👩‍💻',                               'DXB?4', 7),
    ('XSS-1',                                    'AMS-1', 1),
    ('TMPL-1',                                   'BER 2', 49),
    ('  padded sku  ',                           'LON/3', 2);

INSERT INTO warehouse.bins (site_code, aisle, level, sku, capacity, dims) VALUES
    ('AMS-1', 1, 1, 'DRILL-100',                                100,  '{"w": 120, "h": 40, "unit": "cm"}'),
    ('AMS-1', 1, 2, 'AB/12 ?size=L&colour=red#2 + 50%, final', 50.5, '{"w": 60, "label": "<b>top</b>"}'),
    ('LON/3', 7, 1, 'AB/12 ?size=L&colour=red#2 + 50%, final', 10,   NULL),
    ('DXB?4', 2, 3, 'שלום-👩‍💻',                               1,    '{"note": "שלום"}'),
    ('BER 2', 1, 1, NULL,                                       20,   NULL);  -- an empty bin: the composite FK is NULL

-- ---------------------------------------------------------------------------
-- price_history: no key, and one row twice
-- ---------------------------------------------------------------------------

INSERT INTO warehouse.price_history (sku, price, valid_from, recorded_at) VALUES
    ('DRILL-100',                                119.9900, '2024-01-01', '2024-01-01 00:00:00+00'),
    ('DRILL-100',                                129.9900, '2024-06-01', '2024-05-30 08:15:00+00'),
    ('DRILL-100',                                129.9900, '2024-06-01', '2024-05-30 08:15:00+00'),
    ('AB/12 ?size=L&colour=red#2 + 50%, final', 0.0001,   '2024-02-01', '2024-02-01 12:00:00+00'),
    ('XSS-1',                                    1.5000,   '2024-03-01', '2024-03-01 12:00:00+00');

-- ---------------------------------------------------------------------------
-- "Stock Moves": 2,500 generated rows (50 HTML pages of 50). moved_at is NOT NULL
-- and strictly increasing; from_site is NULL for receipts, to_site for write-offs,
-- "note (free text)" is NULL in three rows of four and hostile every 500th row.
-- ---------------------------------------------------------------------------

INSERT INTO warehouse."Stock Moves" (sku, from_site, to_site, "Qty", kind, moved_at, "note (free text)")
SELECT m.sku,
       CASE WHEN m.kind = 'receipt' THEN NULL ELSE m.site_a END,
       CASE WHEN m.kind = 'write-off' THEN NULL ELSE m.site_b END,
       CASE WHEN m.kind = 'write-off' THEN -1 ELSE 1 END * (1 + m.n % 40 + (m.n % 4) * 0.25),
       m.kind,
       timestamptz '2024-01-01 00:00:00+00' + m.n * interval '17 minutes',
       CASE WHEN m.n % 500 = 0 THEN (ARRAY[
                '<script>alert(1)</script>',
                '"><img src=x onerror=alert(1)>',
                'tmpl:{{ 7*7 }}:{% raw %}x{% endraw %}:end',
                E'tab\tand\nnewline',
                'שלום 👩‍💻'])[m.n / 500]
            WHEN m.n % 4 = 0 THEN 'checked by picker ' || (m.n % 13)
       END
FROM (
    SELECT n,
           (ARRAY['DRILL-100', 'AB/12 ?size=L&colour=red#2 + 50%, final', 'XSS-1', 'XSS-2',
                  'TMPL-1', 'QUOTES', 'CTRL', 'שלום-👩‍💻', 'LONG', 'JSON-1',
                  '  padded sku  ', 'not.eq.null'])[1 + n % 12] AS sku,
           (ARRAY['receipt', 'transfer', 'write-off', 'cycle count', 'Return & Refund',
                  '<adjust>'])[1 + n % 6]::warehouse.move_kind AS kind,
           (ARRAY['AMS-1', 'BER 2', 'LON/3', 'DXB?4'])[1 + n % 4] AS site_a,
           (ARRAY['AMS-1', 'BER 2', 'LON/3', 'DXB?4'])[1 + (n + 1) % 4] AS site_b
    FROM generate_series(1, 2500) AS n
) AS m
ORDER BY m.n;

-- ---------------------------------------------------------------------------
-- "Q&A #1? 50%"
-- ---------------------------------------------------------------------------

INSERT INTO warehouse."Q&A #1? 50%" ("Question?", "Answer & Notes", "50%") VALUES
    ('Where do returns go?',  'Bin LON/3 7-1 & then <b>QA</b>', 50),
    ('#1 rule?',              'Scan before you move.',          NULL),
    ('100% sure? a=b&c=d',    NULL,                             100);

-- ---------------------------------------------------------------------------
-- "Ops Data": scanners (uuid keys), scans and cycle counts pointing across schemas
-- ---------------------------------------------------------------------------

INSERT INTO "Ops Data".scanners (id, mac, ip, site_code, last_seen, firmware) VALUES
    ('00000000-0000-4000-8000-000000000001', '08:00:2b:01:02:03', '10.1.0.17',     'AMS-1', '2024-06-01 08:00:00+00', 'v1.2.3'),
    ('00000000-0000-4000-8000-000000000002', '08:00:2b:01:02:04', '2001:db8::17',  'LON/3', '2024-06-01 09:30:00+01', '<script>alert(1)</script>'),
    ('ffffffff-ffff-4fff-bfff-ffffffffffff', 'ff:ff:ff:ff:ff:ff', NULL,            'DXB?4', NULL,                     NULL);

INSERT INTO "Ops Data".scans (scanner_mac, barcode, scanned_at, raw) VALUES
    ('08:00:2b:01:02:03', '2000000000015', '2024-06-01 08:01:00+00', '\x0102'),
    ('08:00:2b:01:02:03', '2000000000022', '2024-06-01 08:02:00+00', NULL),
    ('08:00:2b:01:02:04', '2000000000022', '2024-06-01 08:03:00+00', '\x3c7363726970743e'),
    ('08:00:2b:01:02:04', '2000000000039', '2024-06-01 08:04:00+00', NULL),
    ('ff:ff:ff:ff:ff:ff', '2000000000084', '2024-06-01 08:05:00+00', NULL),
    ('ff:ff:ff:ff:ff:ff', '2000000000053', '2024-06-01 08:06:00+00', NULL);

INSERT INTO "Ops Data".cycle_counts (id, scanner_id, sku, site_code, counted, counted_at, payload) VALUES
    (1, '00000000-0000-4000-8000-000000000001', 'DRILL-100',                                'AMS-1', 39,  '2024-06-02 07:00:00+00', '{"diff": -1}'),
    (2, '00000000-0000-4000-8000-000000000002', 'AB/12 ?size=L&colour=red#2 + 50%, final', 'LON/3', 3,   '2024-06-02 07:05:00+00', '{"note": "</script>"}'),
    (3, NULL,                                   'שלום-👩‍💻',                               'DXB?4', 7.5, '2024-06-02 07:10:00+00', NULL);

SELECT setval(pg_get_serial_sequence('"Ops Data".cycle_counts', 'id'), 3);

INSERT INTO "Ops Data"."Audit Trail" ("When", "Who", "What") VALUES
    ('2024-06-01 00:00:00+00', 'dba',                        '{"did": "created schema"}'),
    ('2024-06-01 00:00:00+00', 'dba',                        '{"did": "created schema"}'),  -- a duplicate fact
    ('2024-06-02 12:00:00+00', '<script>alert(1)</script>',  '{"did": "</script><script>alert(1)</script>"}'),
    ('2024-06-03 12:00:00+00', 'שלום 👩‍💻',                   NULL);
