-- 004_sample_data.sql
-- Deterministic sample data for the lending library, generated in SQL.
--   public    : branches (6), authors (800), books (5,000), members (2,000),
--               copies (~12,000), loans (50,000)
--   reporting : loan_events (one 'loaned' per loan, one 'returned' per
--               returned loan), branch_targets (6 branches x 24 months)
-- then refreshes book_popularity and runs ANALYZE.
--
-- Every apply on an empty schema produces identical rows:
--   * random() is seeded with setseed() and only called in MATERIALIZED CTEs
--     that scan generate_series, so the call order is fixed;
--   * values derived from existing rows (loans) use an md5-based hash instead
--     of random();
--   * uuids are md5(...)::uuid, ids are supplied explicitly and the identity
--     sequences are moved past them with setval();
--   * the time zone is pinned to UTC for this transaction (SET LOCAL).
-- The data is a snapshot "as of" 2026-11-01 00:00 UTC: loans run from
-- 2024-01-01 to 2026-10-31, loans still open at the snapshot have
-- returned_at NULL, and some of those were already overdue on 2026-11-01.
-- Requires 002_library.sql and 003_reporting.sql on empty tables.

SELECT setseed(0.42);

SET LOCAL timezone = 'UTC';
SET LOCAL work_mem = '64MB';   -- keeps the sorts below in memory

-- Uniform value in [0, 1) from 8 hex digits (part 1-4) of an md5 digest;
-- used where rows come from a table scan rather than generate_series.
-- Dropped at the end of the file.
CREATE FUNCTION pg_temp.unit(digest text, part int DEFAULT 1) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ('x' || substr(digest, part * 8 - 7, 8))::bit(32)::bigint::double precision
                 / 4294967296.0::double precision $$;

-- ---------------------------------------------------------------------------
-- branches
-- ---------------------------------------------------------------------------

INSERT INTO branches (id, name, city, opened_on, phone) OVERRIDING SYSTEM VALUE
VALUES (1, 'Central',    'Northbridge', DATE '1921-03-14', '+44 1632 960101'),
       (2, 'Riverside',  'Northbridge', DATE '1968-09-02', '+44 1632 960102'),
       (3, 'Hillcrest',  'Northbridge', DATE '1974-05-20', '+44 1632 960103'),
       (4, 'Harbour',    'Port Ellis',  DATE '1989-07-01', '+44 1632 960104'),
       (5, 'Old Town',   'Northbridge', DATE '1905-11-11', NULL),
       (6, 'University', 'Kingsford',   DATE '2012-10-01', '+44 1632 960106');

SELECT setval(pg_get_serial_sequence('branches', 'id'), (SELECT max(id) FROM branches));

-- ---------------------------------------------------------------------------
-- authors (800)
-- ---------------------------------------------------------------------------

WITH w AS (
    SELECT ARRAY['Ada','Alan','Amara','Ana','Aoife','Beatriz','Carlos','Chen','Clara','Daniel',
                 'Dmitri','Elena','Emeka','Farah','Grace','Hana','Hugo','Ines','Ivan','James',
                 'Jonas','Kenji','Layla','Lucia','Malik','Maria','Mei','Nadia','Noah','Olga',
                 'Omar','Priya','Rosa','Samuel','Sofia','Tomas','Yusuf','Zoë','Liam','Freya'] AS first_names,
           ARRAY['Abbott','Adeyemi','Almeida','Andersen','Bauer','Becker','Brennan','Castillo','Chen','Costa',
                 'Dubois','Eriksson','Fischer','Gallagher','García','Haddad','Hughes','Ibrahim','Jansen','Kaur',
                 'Kowalski','Larsen','Lindqvist','Mendes','Moreau','Müller','Nakamura','Novak','O''Brien','Okafor',
                 'Patel','Petrov','Quinn','Rossi','Santos','Schmidt','Silva','Tanaka','Walsh','Yilmaz'] AS last_names,
           ARRAY['United Kingdom','Ireland','United States','Canada','Nigeria','India','Japan','Brazil',
                 'Portugal','France','Germany','Sweden','Poland','Australia','Kenya','Mexico','Turkey','Italy'] AS countries,
           ARRAY['Award-winning','Prolific','Reclusive','Celebrated','Bestselling','Much-translated',
                 'Former journalist turned','Late-blooming'] AS epithets,
           ARRAY['novelist','essayist','poet','science writer','children''s author','historian'] AS trades
),
r AS MATERIALIZED (
    SELECT g,
           random() AS u_first, random() AS u_last,
           random() AS u_born,  random() AS u_born_null,
           random() AS u_country, random() AS u_country_null,
           random() AS u_bio_null, random() AS u_epithet, random() AS u_trade
      FROM generate_series(1, 800) AS g
)
INSERT INTO authors (id, name, born_on, country, bio)
SELECT r.g,
       p.first_name || ' ' || p.last_name,
       CASE WHEN r.u_born_null >= 0.08
            THEN DATE '1900-01-01' + floor(r.u_born * 34700)::int END,
       p.country,
       CASE WHEN r.u_bio_null >= 0.30
            THEN format('%s %s from %s.',
                        w.epithets[1 + floor(r.u_epithet * cardinality(w.epithets))::int],
                        w.trades[1 + floor(r.u_trade * cardinality(w.trades))::int],
                        coalesce(p.country, 'an undisclosed country')) END
  FROM r
 CROSS JOIN w
 CROSS JOIN LATERAL (
       SELECT w.first_names[1 + floor(r.u_first * cardinality(w.first_names))::int] AS first_name,
              w.last_names[1 + floor(r.u_last * cardinality(w.last_names))::int]   AS last_name,
              CASE WHEN r.u_country_null >= 0.05
                   THEN w.countries[1 + floor(r.u_country * cardinality(w.countries))::int] END AS country
       ) AS p
 ORDER BY r.g;

SELECT setval(pg_get_serial_sequence('authors', 'id'), (SELECT max(id) FROM authors));

-- ---------------------------------------------------------------------------
-- books (5,000)
-- ---------------------------------------------------------------------------

WITH w AS (
    SELECT ARRAY['Silent','Hidden','Broken','Golden','Last','Distant','Crimson','Quiet','Forgotten','Burning',
                 'Winter','Paper','Glass','Northern','Lost','Salt','Iron','Velvet','Hollow','Bright',
                 'Wild','Secret','Long','Little','Restless'] AS adjectives,
           ARRAY['Harbour','Garden','River','Orchard','Lighthouse','Kingdom','Letter','Bridge','Island','Mirror',
                 'Season','House','Road','Forest','Atlas','Clockmaker','Daughter','Archive','Shore','Lantern',
                 'Meadow','Station','Voyage','Tide','Compass'] AS nouns,
           ARRAY['January','March','August','November','Winter','Spring','Summer','Autumn'] AS seasons,
           ARRAY['Astronomy','Botany','Chemistry','Geology','Genetics','Mathematics','Oceanography','Ornithology',
                 'Physics','Statistics','Climate','Cartography','Architecture','Philosophy','Economics',
                 'Typography','Navigation','Medicine','Bees','Volcanoes'] AS topics,
           ARRAY['Fox','Bear','Owl','Otter','Rabbit','Mouse','Badger','Hedgehog','Penguin','Tiger',
                 'Whale','Dragon','Goose','Squirrel','Frog'] AS animals,
           ARRAY['award-winner','book-club','classic','debut','large-print','local-author','translated',
                 'staff-pick','illustrated','bestseller','new-arrival','audiobook-available',
                 'summer-reading','young-adult','signed','out-of-print'] AS tag_words,
           ARRAY['Harbour Lane Press','Northbridge Books','Quill & Anchor','Greywater Publishing','Lantern House',
                 'Copperfield & Sons','Blue Heron Editions','Meridian Academic','Small Hours Press','Tidewater Books'] AS publishers,
           ARRAY['London','Edinburgh','Dublin','New York','Toronto','Sydney','Manchester','Boston'] AS publisher_cities,
           ARRAY['Northbridge Fiction Prize','Golden Quill Award','Harbour Poetry Medal',
                 'Young Readers'' Choice','Society of Letters Prize','Popular Science Book of the Year'] AS awards,
           ARRAY['French','German','Spanish','Portuguese','Japanese','Polish','Swedish','Italian'] AS languages,
           -- tiny 2x3 PNG thumbnails (solid red, green, blue, gold)
           ARRAY['89504e470d0a1a0a0000000d4948445200000002000000030802000000368849d6000000104944415478da63d8a4a404440c2814003fff05c501d88cd70000000049454e44ae426082',
                 '89504e470d0a1a0a0000000d4948445200000002000000030802000000368849d6000000104944415478da63d0eb0e072206140a00420f0661df68597c0000000049454e44ae426082',
                 '89504e470d0a1a0a0000000d4948445200000002000000030802000000368849d6000000104944415478da6370cc7c08440c2814005d8a0943a24a3ef40000000049454e44ae426082',
                 '89504e470d0a1a0a0000000d4948445200000002000000030802000000368849d6000000104944415478da63b8b5540188185028006a9209bb5a9579f10000000049454e44ae426082'] AS png_hex
),
r AS MATERIALIZED (
    SELECT g,
           1 + floor(800 * random() ^ 1.5)::int AS author_id,   -- low ids are prolific
           random() AS u_genre, random() AS u_pattern,
           random() AS u_a, random() AS u_b, random() AS u_c,
           random() AS u_pub, random() AS u_pub_null,
           random() AS u_price, random() AS u_price_null,
           random() AS u_pages, random() AS u_pages_null,
           random() AS u_ntags, random() AS u_t1, random() AS u_t2, random() AS u_t3,
           random() AS u_details_null, random() AS u_publisher, random() AS u_pcity,
           random() AS u_edition, random() AS u_lang, random() AS u_formats,
           random() AS u_award, random() AS u_award2, random() AS u_dims,
           random() AS u_added, random() AS u_added_time
      FROM generate_series(1, 5000) AS g
),
b AS (
    SELECT r.*,
           CASE WHEN r.u_genre < 0.40 THEN 'fiction'
                WHEN r.u_genre < 0.60 THEN 'non_fiction'
                WHEN r.u_genre < 0.75 THEN 'children'
                WHEN r.u_genre < 0.85 THEN 'science'
                WHEN r.u_genre < 0.93 THEN 'reference'
                ELSE 'poetry' END::genre AS genre,
           CASE WHEN r.u_pub_null >= 0.02
                THEN least(coalesce(a.born_on + (7300 + floor(r.u_pub * 20000))::int,
                                    DATE '1950-01-01' + floor(r.u_pub * 26800)::int),
                           DATE '2023-06-30') END AS published_on
      FROM r
      JOIN authors a ON a.id = r.author_id
),
c AS (
    SELECT b.*,
           w.adjectives[1 + floor(b.u_a * cardinality(w.adjectives))::int] AS adjective,
           w.nouns[1 + floor(b.u_b * cardinality(w.nouns))::int]           AS noun,
           w.nouns[1 + floor(b.u_c * cardinality(w.nouns))::int]           AS noun2,
           w.seasons[1 + floor(b.u_c * cardinality(w.seasons))::int]       AS season,
           w.topics[1 + floor(b.u_b * cardinality(w.topics))::int]         AS topic,
           w.animals[1 + floor(b.u_c * cardinality(w.animals))::int]       AS animal,
           CASE WHEN b.u_pages_null < 0.02 THEN NULL
                WHEN b.genre = 'children'  THEN 24  + floor(b.u_pages * 72)::int
                WHEN b.genre = 'poetry'    THEN 48  + floor(b.u_pages * 128)::int
                WHEN b.genre = 'reference' THEN 300 + floor(b.u_pages * 1200)::int
                ELSE 120 + floor(b.u_pages * 680)::int END AS pages,
           greatest(coalesce(b.published_on, DATE '2010-01-01'), DATE '2010-01-01') AS catalogue_from
      FROM b
     CROSS JOIN w
)
INSERT INTO books (id, isbn, title, author_id, genre, published_on, price, pages,
                   tags, details, cover, added_at)
SELECT md5('book-' || c.g)::uuid,
       i.isbn12 || cd.check_digit,
       CASE c.genre
            WHEN 'fiction' THEN
                CASE WHEN c.u_pattern < 0.45 THEN 'The ' || c.adjective || ' ' || c.noun
                     WHEN c.u_pattern < 0.75 THEN 'The ' || c.noun || '''s ' || c.noun2
                     ELSE 'A ' || c.noun || ' in ' || c.season END
            WHEN 'non_fiction' THEN
                CASE WHEN c.u_pattern < 0.40 THEN 'A Short History of ' || c.topic
                     WHEN c.u_pattern < 0.70 THEN 'The ' || c.topic || ' Revolution'
                     ELSE 'Why ' || c.topic || ' Matters' END
            WHEN 'science' THEN
                CASE WHEN c.u_pattern < 0.40 THEN 'Introduction to ' || c.topic
                     WHEN c.u_pattern < 0.70 THEN 'Understanding ' || c.topic
                     ELSE 'Principles of ' || c.topic END
            WHEN 'reference' THEN
                CASE WHEN c.u_pattern < 0.50 THEN 'A Dictionary of ' || c.topic
                     ELSE 'The ' || c.topic || ' Handbook' END
            WHEN 'children' THEN
                CASE WHEN c.u_pattern < 0.50 THEN 'The ' || c.adjective || ' ' || c.animal
                     ELSE c.animal || ' and the ' || c.noun END
            ELSE
                CASE WHEN c.u_pattern < 0.50 THEN c.noun || ' and Other Poems'
                     ELSE 'Songs of the ' || c.adjective || ' ' || c.noun END
       END,
       c.author_id,
       c.genre,
       c.published_on,
       CASE WHEN c.u_price_null >= 0.03 THEN
            CASE c.genre WHEN 'reference' THEN floor(c.u_price * 60) + 19.99
                         WHEN 'children'  THEN floor(c.u_price * 15) + 5.99
                         ELSE floor(c.u_price * 30) + 7.99 END::numeric(8,2) END,
       c.pages,
       ARRAY(SELECT DISTINCT t
               FROM unnest((ARRAY[w.tag_words[1 + floor(c.u_t1 * cardinality(w.tag_words))::int],
                                  w.tag_words[1 + floor(c.u_t2 * cardinality(w.tag_words))::int],
                                  w.tag_words[1 + floor(c.u_t3 * cardinality(w.tag_words))::int]])
                           [1:CASE WHEN c.u_ntags < 0.35 THEN 0
                                   WHEN c.u_ntags < 0.70 THEN 1
                                   WHEN c.u_ntags < 0.90 THEN 2
                                   ELSE 3 END]) AS t
              ORDER BY t),
       CASE WHEN c.u_details_null >= 0.10 THEN jsonb_strip_nulls(jsonb_build_object(
            'publisher', CASE WHEN c.u_publisher < 0.85 THEN jsonb_build_object(
                             'name', w.publishers[1 + floor(c.u_publisher / 0.85 * cardinality(w.publishers))::int],
                             'city', w.publisher_cities[1 + floor(c.u_pcity * cardinality(w.publisher_cities))::int]) END,
            'edition', CASE WHEN c.u_edition < 0.40 THEN 1 + floor(c.u_edition * 10)::int END,
            'language', 'en',
            'translated_from', CASE WHEN c.u_lang >= 0.88
                                    THEN w.languages[1 + floor((c.u_lang - 0.88) / 0.12 * cardinality(w.languages))::int] END,
            'formats', CASE WHEN c.u_formats < 0.60 THEN to_jsonb(ARRAY(
                           SELECT f
                             FROM unnest(ARRAY['hardcover','paperback','ebook','audiobook']) WITH ORDINALITY AS x(f, k)
                            WHERE ((1 + floor(c.u_formats / 0.60 * 15)::int) >> (k::int - 1)) & 1 = 1
                            ORDER BY k)) END,
            'awards', CASE WHEN c.u_award < 0.08 THEN jsonb_build_array(
                               jsonb_build_object('name', w.awards[1 + floor(c.u_award2 * cardinality(w.awards))::int],
                                                  'year', extract(year FROM c.published_on)::int + 1))
                           WHEN c.u_award < 0.10 THEN jsonb_build_array(
                               jsonb_build_object('name', w.awards[1 + floor(c.u_award2 * cardinality(w.awards))::int],
                                                  'year', extract(year FROM c.published_on)::int + 1),
                               jsonb_build_object('name', 'Readers'' Favourite', 'shortlisted', true)) END,
            'dimensions_mm', CASE WHEN c.u_dims < 0.30 THEN jsonb_build_object(
                                 'height', 170 + floor(c.u_dims / 0.30 * 80)::int,
                                 'width',  round((170 + floor(c.u_dims / 0.30 * 80)) * 0.65)::int,
                                 'depth',  coalesce(5 + c.pages / 15, 20)) END
            )) END,
       CASE WHEN c.g % 250 = 0 THEN decode(w.png_hex[1 + (c.g / 250) % 4], 'hex') END,
       (c.catalogue_from + floor(c.u_added * (DATE '2023-06-30' - c.catalogue_from + 1))::int)::timestamp
           AT TIME ZONE 'UTC'
           + make_interval(mins => 540 + floor(c.u_added_time * 540)::int)
  FROM c
 CROSS JOIN w
 CROSS JOIN LATERAL (SELECT '978' || lpad(((c.g::bigint * 387420489) % 1000000000)::text, 9, '0') AS isbn12) AS i
 CROSS JOIN LATERAL (SELECT (10 - sum(substr(i.isbn12, k, 1)::int * CASE WHEN k % 2 = 1 THEN 1 ELSE 3 END) % 10) % 10
                            AS check_digit
                       FROM generate_series(1, 12) AS k) AS cd
 ORDER BY c.g;

-- About 5% of books are sequels: the book points at the previous book (by
-- publication date) of the same author. Always an earlier book, so no cycles.
WITH ordered AS (
    SELECT id,
           lag(id) OVER (PARTITION BY author_id ORDER BY published_on, isbn) AS prev_id
      FROM books
     WHERE published_on IS NOT NULL
),
picked AS (
    SELECT id, prev_id
      FROM ordered
     WHERE prev_id IS NOT NULL
     ORDER BY md5('sequel:' || id), id
     LIMIT 250
)
UPDATE books AS b
   SET sequel_of = p.prev_id
  FROM picked AS p
 WHERE b.id = p.id;

-- ---------------------------------------------------------------------------
-- members (2,000)
-- ---------------------------------------------------------------------------
-- Ids follow joined_at: member n joined between 2015-01-01 + (n-1) * 2.145 days
-- and 2015-01-01 + n * 2.145 days (the last one in late September 2026).

WITH w AS (
    SELECT ARRAY['Ada','Alan','Amara','Ana','Aoife','Beatriz','Carlos','Chen','Clara','Daniel',
                 'Dmitri','Elena','Emeka','Farah','Grace','Hana','Hugo','Ines','Ivan','James',
                 'Jonas','Kenji','Layla','Lucia','Malik','Maria','Mei','Nadia','Noah','Olga',
                 'Omar','Priya','Rosa','Samuel','Sofia','Tomas','Yusuf','Zoë','Liam','Freya'] AS first_names,
           ARRAY['Abbott','Adeyemi','Almeida','Andersen','Bauer','Becker','Brennan','Castillo','Chen','Costa',
                 'Dubois','Eriksson','Fischer','Gallagher','García','Haddad','Hughes','Ibrahim','Jansen','Kaur',
                 'Kowalski','Larsen','Lindqvist','Mendes','Moreau','Müller','Nakamura','Novak','O''Brien','Okafor',
                 'Patel','Petrov','Quinn','Rossi','Santos','Schmidt','Silva','Tanaka','Walsh','Yilmaz'] AS last_names,
           ARRAY['example.com','example.org','example.net','mail.example.com','post.example.org'] AS domains
),
r AS MATERIALIZED (
    SELECT id,
           random() AS u_first, random() AS u_last, random() AS u_domain, random() AS u_case,
           random() AS u_joined, random() AS u_active, random() AS u_branch,
           random() AS u_referred, random() AS u_referrer, random() AS u_max
      FROM generate_series(1, 2000) AS id
)
INSERT INTO members (id, email, full_name, joined_at, active, home_branch_id, referred_by, max_loans)
OVERRIDING SYSTEM VALUE
SELECT r.id,
       -- about 15% keep capitals in the address; the domain is citext, so
       -- uniqueness and look-ups ignore case anyway
       CASE WHEN r.u_case < 0.15
            THEN translate(p.first_name || '.' || p.last_name, 'áéíóúëüöç''', 'aeioueuoc')
            ELSE translate(lower(p.first_name || '.' || p.last_name), 'áéíóúëüöç''', 'aeioueuoc') END
           || r.id || '@' || w.domains[1 + floor(r.u_domain * cardinality(w.domains))::int],
       p.first_name || ' ' || p.last_name,
       TIMESTAMPTZ '2015-01-01 00:00:00+00' + ((r.id - 1) + r.u_joined) * 2.145 * INTERVAL '1 day',
       r.u_active >= 0.12,
       CASE WHEN r.u_branch < 0.30 THEN 1
            WHEN r.u_branch < 0.45 THEN 2
            WHEN r.u_branch < 0.60 THEN 3
            WHEN r.u_branch < 0.72 THEN 4
            WHEN r.u_branch < 0.85 THEN 5
            ELSE 6 END,
       CASE WHEN r.id > 1 AND r.u_referred < 0.20
            THEN 1 + floor(r.u_referrer * (r.id - 1))::bigint END,
       CASE WHEN r.u_max < 0.80 THEN 5
            WHEN r.u_max < 0.92 THEN 10
            WHEN r.u_max < 0.98 THEN 3
            ELSE 20 END
  FROM r
 CROSS JOIN w
 CROSS JOIN LATERAL (
       SELECT w.first_names[1 + floor(r.u_first * cardinality(w.first_names))::int] AS first_name,
              w.last_names[1 + floor(r.u_last * cardinality(w.last_names))::int]   AS last_name
       ) AS p
 ORDER BY r.id;

SELECT setval(pg_get_serial_sequence('members', 'id'), (SELECT max(id) FROM members));

-- ---------------------------------------------------------------------------
-- copies (~12,000; 1-4 per book)
-- ---------------------------------------------------------------------------

WITH n0 AS MATERIALIZED (
    SELECT g, random() AS u_count
      FROM generate_series(1, 5000) AS g
),
n1 AS MATERIALIZED (
    SELECT g,
           CASE WHEN u_count < 0.20 THEN 1
                WHEN u_count < 0.55 THEN 2
                WHEN u_count < 0.85 THEN 3
                ELSE 4 END AS n_copies
      FROM n0
),
r AS MATERIALIZED (
    SELECT n1.g, k AS copy_no,
           random() AS u_branch, random() AS u_condition, random() AS u_acquired
      FROM n1
     CROSS JOIN LATERAL generate_series(1, n1.n_copies) AS k
)
INSERT INTO copies (book_id, copy_no, branch_id, condition, acquired_on)
SELECT b.id,
       r.copy_no,
       CASE WHEN r.u_branch < 0.30 THEN 1
            WHEN r.u_branch < 0.45 THEN 2
            WHEN r.u_branch < 0.60 THEN 3
            WHEN r.u_branch < 0.72 THEN 4
            WHEN r.u_branch < 0.85 THEN 5
            ELSE 6 END,
       CASE WHEN r.u_condition < 0.07 THEN 'damaged'
            WHEN r.u_condition < 0.30 THEN 'worn'
            WHEN r.u_condition < 0.92 THEN 'good'
            ELSE 'new' END,
       least(b.added_at::date + floor(r.u_acquired * 365)::int + (r.copy_no - 1) * 30,
             DATE '2023-12-31')
  FROM r
  JOIN books b ON b.id = md5('book-' || r.g)::uuid
 ORDER BY r.g, r.copy_no;

-- ---------------------------------------------------------------------------
-- loans (50,000)
-- ---------------------------------------------------------------------------
-- 2024-01-01 .. 2026-11-01 is split into five slots of 207 days. A copy is
-- lent at most once per slot and always back before the next slot starts,
-- so loans of one copy never overlap. 50,000 of the (copy, slot) pairs are
-- chosen by weighted sampling (a per-book popularity weight), so some books
-- are lent far more than others and a few never.
-- Loan period 21 days, plus 14 or 28 days for renewed loans (extension).
-- The borrower is drawn from the members who had joined before loaned_at.
-- Open loans (returned_at NULL):
--   * loans of the last slot that were not yet back on 2026-11-01;
--   * ~2% of copies whose latest loan is in an earlier slot were never
--     returned (long overdue).
-- Late returns pay 0.25 per day late, at most 10.00.

WITH slot_pick AS (
    SELECT c.book_id, c.copy_no, s.slot,
           pg_temp.unit(md5(concat_ws(':', 'pick', c.book_id, c.copy_no, s.slot)))
               ^ (1.0 / (0.15 + 2.0 * pg_temp.unit(md5('popularity:' || c.book_id)))) AS pick_key
      FROM copies c
     CROSS JOIN generate_series(0, 4) AS s(slot)
),
chosen AS MATERIALIZED (
    SELECT book_id, copy_no, slot,
           row_number() OVER (PARTITION BY book_id, copy_no ORDER BY slot DESC) = 1 AS is_latest,
           md5(concat_ws(':', 'loan-a', book_id, copy_no, slot)) AS digest_a,
           md5(concat_ws(':', 'loan-b', book_id, copy_no, slot)) AS digest_b
      FROM (SELECT book_id, copy_no, slot
              FROM slot_pick
             ORDER BY pick_key DESC, book_id, copy_no, slot
             LIMIT 50000) AS top
),
u AS MATERIALIZED (
    SELECT book_id, copy_no, slot, is_latest,
           pg_temp.unit(digest_a, 1) AS u_day,
           pg_temp.unit(digest_a, 2) AS u_time,
           pg_temp.unit(digest_a, 3) AS u_member,
           pg_temp.unit(digest_a, 4) AS u_ext,
           pg_temp.unit(digest_b, 1) AS u_return,
           pg_temp.unit(digest_b, 2) AS u_late,
           pg_temp.unit(digest_b, 3) AS u_rtime,
           pg_temp.unit(digest_b, 4) AS u_lost
      FROM chosen
),
t AS (
    SELECT u.*,
           TIMESTAMPTZ '2024-01-01 00:00:00+00'
               + make_interval(days => slot * 207 + floor(u_day * 207)::int,
                               mins => 540 + floor(u_time * 600)::int)         AS loaned_at,
           TIMESTAMPTZ '2024-01-01 00:00:00+00'
               + make_interval(days => (slot + 1) * 207)                       AS slot_end,
           CASE WHEN u_ext < 0.03 THEN 28 WHEN u_ext < 0.15 THEN 14 END        AS ext_days
      FROM u
),
d AS (
    SELECT t.*,
           loaned_at::date + 21 + coalesce(ext_days, 0) AS due_on,
           (loaned_at::date
               + CASE WHEN u_return < 0.85 THEN 1 + floor(u_late * (21 + coalesce(ext_days, 0)))::int
                      WHEN u_return < 0.97 THEN 22 + coalesce(ext_days, 0) + floor(u_late * 21)::int
                      ELSE 43 + coalesce(ext_days, 0) + floor(u_late * 60)::int END
           )::timestamp AT TIME ZONE 'UTC'
               + make_interval(mins => 540 + floor(u_rtime * 600)::int)        AS wanted_return,
           1 + floor(u_member
                     * least(floor(extract(epoch FROM loaned_at - TIMESTAMPTZ '2015-01-01 00:00:00+00')
                                   / 86400 / 2.145), 2000))::bigint          AS member_id
      FROM t
),
f AS (
    SELECT d.*,
           CASE WHEN slot = 4 AND wanted_return >= TIMESTAMPTZ '2026-11-01 00:00:00+00' THEN NULL
                WHEN slot < 4 AND is_latest AND u_lost < 0.02 THEN NULL
                ELSE least(wanted_return, slot_end - INTERVAL '1 hour') END AS returned_at
      FROM d
)
INSERT INTO loans (id, book_id, copy_no, member_id, loaned_at, due_on, returned_at, extension, fee)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY loaned_at, book_id, copy_no),
       book_id,
       copy_no,
       member_id,
       loaned_at,
       due_on,
       returned_at,
       make_interval(days => ext_days),
       CASE WHEN returned_at::date > due_on
            THEN least((returned_at::date - due_on) * 0.25, 10.00)
            ELSE 0 END
  FROM f
 ORDER BY 1;

SELECT setval(pg_get_serial_sequence('loans', 'id'), (SELECT max(id) FROM loans));

-- Keep max_loans consistent with the loans: nobody holds more open loans
-- than allowed, and about a quarter of the closed memberships without open
-- loans are suspended (max_loans = 0).
WITH open_loans AS (
    SELECT member_id, count(*) AS n
      FROM loans
     WHERE returned_at IS NULL
     GROUP BY member_id
)
UPDATE members AS m
   SET max_loans = o.n
  FROM open_loans AS o
 WHERE o.member_id = m.id
   AND o.n > m.max_loans;

UPDATE members AS m
   SET max_loans = 0
 WHERE NOT m.active
   AND md5('suspended:' || m.id) < '4'
   AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.member_id = m.id AND l.returned_at IS NULL);

-- ---------------------------------------------------------------------------
-- reporting.loan_events
-- ---------------------------------------------------------------------------

WITH e AS (
    SELECT l.id AS loan_id, 'loaned' AS kind, l.loaned_at AS occurred_at,
           jsonb_build_object('member_id', l.member_id,
                              'branch_id', c.branch_id,
                              'copy_no',   l.copy_no,
                              'due_on',    l.due_on) AS payload,
           1 AS seq
      FROM loans l
      JOIN copies c ON c.book_id = l.book_id AND c.copy_no = l.copy_no
    UNION ALL
    SELECT l.id, 'returned', l.returned_at,
           jsonb_build_object('days_late', greatest(l.returned_at::date - l.due_on, 0),
                              'fee',       l.fee),
           2
      FROM loans l
     WHERE l.returned_at IS NOT NULL
)
INSERT INTO reporting.loan_events (id, loan_id, kind, occurred_at, payload)
OVERRIDING SYSTEM VALUE
SELECT row_number() OVER (ORDER BY occurred_at, loan_id, seq),
       loan_id, kind, occurred_at, payload
  FROM e
 ORDER BY 1;

SELECT setval(pg_get_serial_sequence('reporting.loan_events', 'id'),
              (SELECT max(id) FROM reporting.loan_events));

-- ---------------------------------------------------------------------------
-- reporting.branch_targets (6 branches x 24 months of 2025-2026)
-- ---------------------------------------------------------------------------
-- Target = the branch's 2024 monthly average, +5% in 2025 and +10% in 2026,
-- +15% in July/August, -15% in December, rounded to tens.

WITH base AS (
    SELECT c.branch_id, count(*) / 12.0 AS monthly_2024
      FROM loans l
      JOIN copies c ON c.book_id = l.book_id AND c.copy_no = l.copy_no
     WHERE l.loaned_at >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
       AND l.loaned_at <  TIMESTAMPTZ '2025-01-01 00:00:00+00'
     GROUP BY c.branch_id
)
INSERT INTO reporting.branch_targets (branch_id, month, target_loans, note)
SELECT br.id,
       m.month,
       (round(coalesce(base.monthly_2024, 0)
              * CASE WHEN m.month < DATE '2026-01-01' THEN 1.05 ELSE 1.10 END
              * CASE WHEN extract(month FROM m.month) IN (7, 8) THEN 1.15
                     WHEN extract(month FROM m.month) = 12      THEN 0.85
                     ELSE 1 END
              * CASE WHEN br.name = 'Harbour' AND m.month = DATE '2025-03-01' THEN 0.5 ELSE 1 END
              / 10) * 10)::int,
       CASE WHEN br.name = 'Harbour' AND m.month = DATE '2025-03-01'
                 THEN 'Closed two weeks for roof repairs'
            WHEN extract(month FROM m.month) IN (7, 8)
                 THEN 'Summer reading challenge'
            WHEN extract(month FROM m.month) = 12
                 THEN 'Reduced opening hours over the holidays' END
  FROM branches br
 CROSS JOIN (SELECT d::date AS month
               FROM generate_series(DATE '2025-01-01', DATE '2026-12-01', INTERVAL '1 month') AS d) AS m
  LEFT JOIN base ON base.branch_id = br.id
 ORDER BY br.id, m.month;

-- ---------------------------------------------------------------------------
-- Derived data and planner statistics
-- ---------------------------------------------------------------------------

REFRESH MATERIALIZED VIEW book_popularity;

DROP FUNCTION pg_temp.unit(text, int);

ANALYZE branches;
ANALYZE authors;
ANALYZE books;
ANALYZE members;
ANALYZE copies;
ANALYZE loans;
ANALYZE book_popularity;
ANALYZE reporting.loan_events;
ANALYZE reporting.branch_targets;
