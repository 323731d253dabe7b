-- 004_sample_data.sql
-- Sample data for the lending library, generated in SQL and deterministic:
-- setseed() fixes random(), and uuids are derived with md5(), so every apply
-- gives the same rows. Sizes: 6 branches, 800 authors, 5,000 books,
-- ~12,500 copies, 2,000 members, 50,000 loans (2024-01-01 .. 2026-10-31; the
-- ones still open and due before 2026-11-01 are overdue), ~95,000 loan events.

SELECT setseed(0.42);

INSERT INTO branches (name, city, opened_on, phone) VALUES
    ('Central',    'Northam',   '1952-03-01', '+44 20 7946 0001'),
    ('Riverside',  'Northam',   '1978-06-15', '+44 20 7946 0002'),
    ('Hillcrest',  'Easton',    '1991-09-02', '+44 20 7946 0003'),
    ('Harbour',    'Portsea',   '2003-04-20', NULL),
    ('Old Town',   'Northam',   '1899-11-11', '+44 20 7946 0005'),
    ('University', 'Westbury',  NULL,         '+44 20 7946 0006');

INSERT INTO authors (name, born_on, country, bio)
SELECT (ARRAY['Ada','Bram','Chiara','Dmitri','Elif','Farah','Goran','Hana','Ines','Jonas',
              'Kofi','Lena','Mateo','Noor','Oskar','Priya','Quentin','Rosa','Sven','Tomoko'])[1 + (i % 20)]
       || ' ' ||
       (ARRAY['Okafor','Lindqvist','Moreau','Tanaka','Kowalski','Haddad','Silva','Novak',
              'Byrne','Castillo','Nakamura','Jensen','Rossi','Ahmed','Fischer','Dubois',
              'Petrov','Walsh','Yilmaz','Larsen'])[1 + ((i / 20) % 20)]
       || CASE WHEN i > 400 THEN ' ' || chr(65 + (i % 26)) || '.' ELSE '' END,
       CASE WHEN i % 9 = 0 THEN NULL ELSE date '1930-01-01' + (random() * 25000)::int END,
       CASE WHEN i % 7 = 0 THEN NULL
            ELSE (ARRAY['Nigeria','Sweden','France','Japan','Poland','Lebanon','Brazil',
                        'Czechia','Ireland','Mexico','Denmark','Italy','Turkey','Norway'])[1 + (i % 14)] END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'Writes about ' ||
            (ARRAY['the sea','cities','childhood','science','war','food','music','stars'])[1 + (i % 8)] || '.' END
FROM generate_series(1, 800) AS i;

INSERT INTO books (id, isbn, title, author_id, genre, published_on, price, pages, tags, details,
                   cover, sequel_of, added_at)
SELECT md5('book' || i)::uuid,
       '978' || lpad(i::text, 10, '0'),
       (ARRAY['The','A','Our','Their','No','Every'])[1 + (i % 6)] || ' ' ||
       (ARRAY['Silent','Last','Hidden','Northern','Broken','Golden','Quiet','Distant','Paper','Winter'])[1 + ((i / 6) % 10)] || ' ' ||
       (ARRAY['Harbour','Garden','Theory','River','Atlas','Promise','Machine','Library','Country','Light'])[1 + ((i / 60) % 10)] ||
       CASE WHEN i > 600 THEN ' ' || (i / 600 + 1)::text ELSE '' END,
       1 + (i * 7) % 800,
       (enum_range(NULL::genre))[1 + (i % 6)],
       CASE WHEN i % 11 = 0 THEN NULL ELSE date '1950-01-01' + ((i * 37) % 27000) END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE round((4 + random() * 46)::numeric, 2) END,
       CASE WHEN i % 17 = 0 THEN NULL ELSE 48 + (i * 13) % 900 END,
       CASE i % 4 WHEN 0 THEN '{}'::text[]
                  WHEN 1 THEN ARRAY['classic']
                  WHEN 2 THEN ARRAY['award-winner', 'book club']
                  ELSE ARRAY['new', 'staff pick', 'large print'] END,
       CASE i % 5 WHEN 0 THEN NULL
                  WHEN 1 THEN jsonb_build_object('publisher', 'Northam Press', 'formats', jsonb_build_array('hardback', 'ebook'))
                  WHEN 2 THEN jsonb_build_object('publisher', 'Quay Books', 'awards', jsonb_build_array(jsonb_build_object('name', 'Harbour Prize', 'year', 1990 + i % 30)))
                  WHEN 3 THEN jsonb_build_object('series', jsonb_build_object('name', 'Winter Cycle', 'part', 1 + i % 4), 'translated', true)
                  ELSE jsonb_build_object('notes', 'signed copy', 'edition', 2) END,
       CASE WHEN i % 250 = 0 THEN decode('89504e470d0a1a0a' || md5('cover' || i), 'hex') END,
       NULL,
       timestamptz '2023-06-01 09:00:00+00' + make_interval(mins => i * 97)
FROM generate_series(1, 5000) AS i;

-- About 5% of books are sequels of an earlier book.
UPDATE books SET sequel_of = md5('book' || (n - 1))::uuid
FROM (SELECT generate_series(2, 5000, 20) AS n) s
WHERE books.id = md5('book' || s.n)::uuid;

INSERT INTO copies (book_id, copy_no, branch_id, condition, acquired_on)
SELECT md5('book' || i)::uuid,
       c,
       1 + (i + c) % 6,
       (ARRAY['new','good','good','good','worn','damaged'])[1 + ((i * c) % 6)],
       date '2020-01-01' + ((i * 31 + c * 7) % 1400)
FROM generate_series(1, 5000) AS i,
     generate_series(1, 1 + (i % 4)) AS c;

INSERT INTO members (email, full_name, joined_at, active, home_branch_id, max_loans)
SELECT 'member' || i || '@' || (ARRAY['example.org','Example.COM','mail.example.net'])[1 + (i % 3)],
       (ARRAY['Alex','Billie','Cam','Dana','Eden','Frankie','Gray','Harper','Indy','Jules'])[1 + (i % 10)]
       || ' ' ||
       (ARRAY['Archer','Bennett','Carter','Dalton','Ellis','Fletcher','Garner','Hayes','Irwin','Jordan'])[1 + ((i / 10) % 10)],
       timestamptz '2019-01-01 00:00:00+00' + make_interval(hours => i * 11),
       i % 19 <> 0,
       1 + i % 6,
       CASE WHEN i % 50 = 0 THEN 0 WHEN i % 10 = 0 THEN 10 ELSE 5 END
FROM generate_series(1, 2000) AS i;

-- About 20% of members were referred by someone who joined before them.
UPDATE members SET referred_by = id - 1 - (id % 7)
WHERE id % 5 = 0 AND id > 8;

-- Loans: the copy and member are derived from the loan number, dates spread
-- evenly over 2024-01-01 .. 2026-10-31 with a 21-day loan period.
INSERT INTO loans (book_id, copy_no, member_id, loaned_at, due_on, returned_at, extension, fee)
SELECT c.book_id, c.copy_no, m.member_id, l.loaned_at, l.due_on,
       CASE WHEN l.loaned_at > timestamptz '2026-10-31 00:00:00+00' - make_interval(days => 40 + (l.n % 60))
                 AND l.n % 3 <> 0 THEN NULL
            ELSE l.loaned_at + make_interval(days => 1 + (l.n % 35), hours => l.n % 10) END,
       CASE WHEN l.n % 9 = 0 THEN make_interval(days => 7 * (1 + l.n % 3)) END,
       CASE WHEN l.n % 12 = 0 THEN round((0.5 + (l.n % 40) * 0.25)::numeric, 2) ELSE 0 END
FROM (
    SELECT n,
           timestamptz '2024-01-01 08:00:00+00' + make_interval(secs => n * 1832.0) AS loaned_at,
           (timestamptz '2024-01-01 08:00:00+00' + make_interval(secs => n * 1832.0))::date
               + 21 + CASE WHEN n % 9 = 0 THEN 7 * (1 + n % 3) ELSE 0 END AS due_on
    FROM generate_series(1, 50000) AS n
) AS l
JOIN LATERAL (
    SELECT book_id, copy_no FROM copies
    WHERE book_id = md5('book' || (1 + (l.n * 7919) % 5000))::uuid
    ORDER BY copy_no LIMIT 1 OFFSET (l.n % (1 + ((1 + (l.n * 7919) % 5000) % 4)))
) AS c ON true
JOIN LATERAL (SELECT 1 + (l.n::bigint * 104729) % 2000 AS member_id) AS m ON true;

INSERT INTO reporting.loan_events (loan_id, kind, occurred_at, payload)
SELECT id, 'loaned', loaned_at, jsonb_build_object('due_on', due_on) FROM loans
UNION ALL
SELECT id, 'returned', returned_at, CASE WHEN fee > 0 THEN jsonb_build_object('fee', fee) END
FROM loans WHERE returned_at IS NOT NULL;

INSERT INTO reporting.branch_targets (branch_id, month, target_loans, note)
SELECT b.id, m::date, 180 + (b.id * 37 + extract(month FROM m)::int * 11) % 120,
       CASE WHEN extract(month FROM m) = 12 THEN 'holiday season' END
FROM branches b,
     generate_series(date '2025-01-01', date '2026-12-01', interval '1 month') AS m;

REFRESH MATERIALIZED VIEW book_popularity;

ANALYZE branches, authors, books, members, copies, loans, book_popularity,
        reporting.loan_events, reporting.branch_targets;
