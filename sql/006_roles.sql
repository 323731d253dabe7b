-- 006_roles.sql
-- Who may do what, decided here as PostgREST does: the app runs each request as
--   web_anon  - anonymous requests (DB_ANON_ROLE=web_anon): read the catalogue, nothing else;
--   web_user  - requests with a valid JWT whose "role" claim is web_user: also their own
--               member row and loans (row-level security keyed on the "member_id" claim).
-- Roles are cluster-wide, so they are created only if missing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'web_anon') THEN
        CREATE ROLE web_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'web_user') THEN
        CREATE ROLE web_user NOLOGIN;
    END IF;
END;
$$;

-- The connecting (authenticator) role must be able to switch to both.
GRANT web_anon, web_user TO CURRENT_USER;

GRANT USAGE ON SCHEMA public, reporting TO web_anon, web_user;
GRANT SELECT ON branches, authors, books, copies, book_popularity TO web_anon, web_user;
GRANT SELECT ON reporting.monthly_loans TO web_anon, web_user;
GRANT SELECT, UPDATE (full_name) ON members TO web_user;
GRANT SELECT ON loans TO web_user;

-- The member a request speaks for, from its verified JWT (NULL without one).
CREATE FUNCTION public.current_member_id() RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'member_id')::bigint
$$;
COMMENT ON FUNCTION public.current_member_id() IS
    'The member_id claim of the request''s verified JWT, or NULL.';
GRANT EXECUTE ON FUNCTION public.current_member_id() TO web_anon, web_user;

ALTER TABLE members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_own_row ON members TO web_user
    USING (id = public.current_member_id());

ALTER TABLE loans ENABLE ROW LEVEL SECURITY;
CREATE POLICY loans_own ON loans TO web_user
    USING (member_id = public.current_member_id());
