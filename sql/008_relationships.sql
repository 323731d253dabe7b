-- 008_relationships.sql
-- More kinds of relationship for the lending library, all in schema public:
--   member_cards          one-to-one with members (its primary key is its foreign key)
--   wishlist              a junction table: members and books, many-to-many
--   reading_groups        each led by a member (many-to-one)
--   reading_group_members a junction table: reading_groups and members, many-to-many, so
--                         the two relate both through the leader and through the junction
--   shelved_copies (view) copies that can be lent, showing the keys of copies
-- with their rows, and grants and row-level security in the manner of 006_roles.sql.
-- Requires 002_library.sql, 004_sample_data.sql and 006_roles.sql.

SET LOCAL timezone = 'UTC';

-- ---------------------------------------------------------------------------
-- member_cards
-- ---------------------------------------------------------------------------

CREATE TABLE member_cards (
    member_id   bigint  PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    card_no     text    NOT NULL UNIQUE CHECK (card_no ~ '^LC-[0-9]{6}$'),
    issued_on   date    NOT NULL,
    expires_on  date    NOT NULL,
    CONSTRAINT member_cards_expire_after_issue_check CHECK (expires_on > issued_on)
);

COMMENT ON TABLE  member_cards            IS 'The library card of a member; at most one per member, and not every member has one.';
COMMENT ON COLUMN member_cards.member_id  IS 'The card holder; also the key, so a member has at most one card.';
COMMENT ON COLUMN member_cards.card_no    IS 'Number printed on the card (LC- and six digits), unique.';
COMMENT ON COLUMN member_cards.issued_on  IS 'Date the card was issued.';
COMMENT ON COLUMN member_cards.expires_on IS 'Date the card stops being valid.';

-- Every member but one in four has a card.
INSERT INTO member_cards (member_id, card_no, issued_on, expires_on)
SELECT id,
       'LC-' || lpad(id::text, 6, '0'),
       joined_at::date,
       (joined_at + interval '3 years')::date
  FROM members
 WHERE id % 4 <> 0;

-- ---------------------------------------------------------------------------
-- wishlist
-- ---------------------------------------------------------------------------

CREATE TABLE wishlist (
    member_id  bigint       NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    book_id    uuid         NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    added_at   timestamptz  NOT NULL,
    PRIMARY KEY (member_id, book_id)
);

COMMENT ON TABLE  wishlist           IS 'Books members wish to borrow: relates members and books many-to-many.';
COMMENT ON COLUMN wishlist.member_id IS 'The member who wishes for the book.';
COMMENT ON COLUMN wishlist.book_id   IS 'The book wished for.';
COMMENT ON COLUMN wishlist.added_at  IS 'When the book was added to the wishlist.';

-- wishlist.member_id is covered by the primary key index (member_id, book_id).
CREATE INDEX wishlist_book_id_idx ON wishlist (book_id);

-- One member in three wishes for up to three books, picked by arithmetic on the ids.
WITH numbered AS (
    SELECT id, row_number() OVER (ORDER BY isbn) AS n, count(*) OVER () AS total
      FROM books
),
wanted AS (
    SELECT m.id AS member_id, m.joined_at, k
      FROM members m, generate_series(1, (m.id % 4)::int) AS k
     WHERE m.id % 3 = 0
)
INSERT INTO wishlist (member_id, book_id, added_at)
SELECT w.member_id, b.id, w.joined_at + w.k * interval '9 days'
  FROM wanted w
  JOIN numbered b ON b.n = (w.member_id * 37 + w.k * 1009) % b.total + 1;

-- ---------------------------------------------------------------------------
-- reading_groups and reading_group_members
-- ---------------------------------------------------------------------------

CREATE TABLE reading_groups (
    id         int     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text    NOT NULL UNIQUE,
    leader_id  bigint  NOT NULL REFERENCES members (id),
    meets      text
);

COMMENT ON TABLE  reading_groups           IS 'Reading groups that meet at the library, each led by a member.';
COMMENT ON COLUMN reading_groups.id        IS 'Surrogate key (identity, always generated).';
COMMENT ON COLUMN reading_groups.name      IS 'Name of the group, unique.';
COMMENT ON COLUMN reading_groups.leader_id IS 'The member who leads the group (also one of its members).';
COMMENT ON COLUMN reading_groups.meets     IS 'When the group meets, free text; NULL if not fixed.';

CREATE INDEX reading_groups_leader_id_idx ON reading_groups (leader_id);

CREATE TABLE reading_group_members (
    group_id   int     NOT NULL REFERENCES reading_groups (id) ON DELETE CASCADE,
    member_id  bigint  NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    joined_on  date    NOT NULL,
    PRIMARY KEY (group_id, member_id)
);

COMMENT ON TABLE  reading_group_members           IS 'Who belongs to which reading group: relates reading_groups and members many-to-many.';
COMMENT ON COLUMN reading_group_members.group_id  IS 'The reading group.';
COMMENT ON COLUMN reading_group_members.member_id IS 'The member belonging to it.';
COMMENT ON COLUMN reading_group_members.joined_on IS 'Date the member joined the group.';

-- reading_group_members.group_id is covered by the primary key index (group_id, member_id).
CREATE INDEX reading_group_members_member_id_idx ON reading_group_members (member_id);

-- Group g is led by member 51 * g and has the 40 members whose id is g modulo 50.
INSERT INTO reading_groups (id, name, leader_id, meets) OVERRIDING SYSTEM VALUE
VALUES (1, 'Crime Fiction Circle', 51,  'First Monday of the month, 19:00'),
       (2, 'Poetry Aloud',         102, 'Every other Thursday, 18:30'),
       (3, 'Science Shelf',        153, NULL),
       (4, 'Young Readers',        204, 'Saturdays, 10:00');

SELECT setval(pg_get_serial_sequence('reading_groups', 'id'), (SELECT max(id) FROM reading_groups));

INSERT INTO reading_group_members (group_id, member_id, joined_on)
SELECT g.id, m.id, (m.joined_at + interval '30 days')::date
  FROM reading_groups g
  JOIN members m ON m.id % 50 = g.id;

-- ---------------------------------------------------------------------------
-- shelved_copies
-- ---------------------------------------------------------------------------

CREATE VIEW shelved_copies AS
SELECT c.book_id,
       c.copy_no,
       c.branch_id,
       c.condition,
       c.acquired_on
  FROM copies c
 WHERE c.condition <> 'damaged';

COMMENT ON VIEW   shelved_copies             IS 'Copies on the shelves that can be lent: every copy but the damaged ones.';
COMMENT ON COLUMN shelved_copies.book_id     IS 'The book (copies.book_id).';
COMMENT ON COLUMN shelved_copies.copy_no     IS 'Copy number within the book (copies.copy_no).';
COMMENT ON COLUMN shelved_copies.branch_id   IS 'Branch that shelves the copy (copies.branch_id).';
COMMENT ON COLUMN shelved_copies.condition   IS 'Physical condition: new, good or worn.';
COMMENT ON COLUMN shelved_copies.acquired_on IS 'Date the copy was acquired.';

-- ---------------------------------------------------------------------------
-- Grants and row-level security (see 006_roles.sql)
-- ---------------------------------------------------------------------------

GRANT SELECT ON reading_groups, shelved_copies TO web_anon, web_user;
GRANT SELECT ON member_cards, wishlist, reading_group_members TO web_user;

-- Staff (007_login_role.sql) read and write them all.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON member_cards, wishlist, reading_groups, reading_group_members TO librarian;
GRANT SELECT ON shelved_copies TO librarian;

ALTER TABLE member_cards ENABLE ROW LEVEL SECURITY;
CREATE POLICY member_cards_own ON member_cards TO web_user
    USING (member_id = public.current_member_id());
CREATE POLICY member_cards_staff ON member_cards TO librarian USING (true) WITH CHECK (true);

ALTER TABLE wishlist ENABLE ROW LEVEL SECURITY;
CREATE POLICY wishlist_own ON wishlist TO web_user
    USING (member_id = public.current_member_id());
CREATE POLICY wishlist_staff ON wishlist TO librarian USING (true) WITH CHECK (true);

ALTER TABLE reading_group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY reading_group_members_own ON reading_group_members TO web_user
    USING (member_id = public.current_member_id());
CREATE POLICY reading_group_members_staff ON reading_group_members TO librarian USING (true) WITH CHECK (true);

ANALYZE member_cards;
ANALYZE wishlist;
ANALYZE reading_groups;
ANALYZE reading_group_members;
