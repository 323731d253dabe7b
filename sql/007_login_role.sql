-- 007_login_role.sql
-- The role the app logs in as, and a staff role, as in PostgREST's tutorial:
--   authenticator - the login role: NOINHERIT, not a superuser, so it may do nothing by itself;
--                   each request's transaction switches from it to web_anon or to the role of a
--                   verified JWT. Give it a password (ALTER ROLE authenticator PASSWORD '...')
--                   and connect the app as it; the embedded default does both by itself.
--   librarian     - staff, with a JWT whose "role" claim is librarian: reads every table and
--                   writes branches, authors, books, copies, members and loans.
-- 006 granted web_anon and web_user to whoever applied it; granting them (and librarian) to
-- authenticator here lets the app connect as another role than the one that applies sql/.
-- An app that logs in as a role of its own needs the same: GRANT web_anon, web_user TO <login>.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'librarian') THEN
        CREATE ROLE librarian NOLOGIN;
    END IF;
END;
$$;

GRANT web_anon, web_user, librarian TO authenticator;
-- The app reflects the schemas as its login role, which must be able to look names up in them.
GRANT USAGE ON SCHEMA public, reporting TO authenticator;

GRANT USAGE ON SCHEMA public, reporting TO librarian;
GRANT SELECT, INSERT, UPDATE, DELETE ON branches, authors, books, copies, members, loans TO librarian;
GRANT SELECT ON overdue_loans, book_popularity TO librarian;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO librarian;
GRANT EXECUTE ON FUNCTION public.current_member_id() TO librarian;

-- Row-level security (006) shows web_user its own rows; staff see and change them all.
CREATE POLICY members_staff ON members TO librarian USING (true) WITH CHECK (true);
CREATE POLICY loans_staff ON loans TO librarian USING (true) WITH CHECK (true);
