-- 010_functions.sql
-- Functions the API serves at /api/rpc/<name> (PostgREST's "functions as RPC"), in schema
-- public, with their grants in the manner of 006_roles.sql and 007_login_role.sql:
--   search_books(q)             STABLE, SETOF books: titles matching the words of q
--   tagged(VARIADIC wanted)     STABLE, SETOF books: books carrying every tag given
--   book_count(of_genre)        STABLE, a scalar: how many books (of a genre)
--   book_count(by_author)       its overload: how many books by one author
--   copies_per_branch()         STABLE, RETURNS TABLE: copies shelved at each branch
--   member_stats()              STABLE, RETURNS TABLE: loans per member (librarians only)
--   renew_loan(loan_id, days)   VOLATILE, one loans row: pushes an open loan's due date
--   return_copy(loan_id)        VOLATILE, void: checks a lent copy back in
--   whoami()                    STABLE, jsonb: the role, claims, method and path of a request
--   available_copies(books)     STABLE, a computed column of books: copies not lent out now
--   sequels(books)              STABLE, a computed relationship: the books that follow one
-- Anyone may run a new function unless told otherwise (EXECUTE is granted to PUBLIC), so
-- the ones that read or change private rows revoke that first.
-- Requires 002_library.sql, 006_roles.sql and 007_login_role.sql.

CREATE FUNCTION search_books(q text) RETURNS SETOF books
    LANGUAGE sql STABLE AS $$
    SELECT * FROM books WHERE search @@ plainto_tsquery('english', q) ORDER BY title
$$;
COMMENT ON FUNCTION search_books(text) IS
    'Books whose title matches every word of q (full-text, english), by title.';

CREATE FUNCTION tagged(VARIADIC wanted text[]) RETURNS SETOF books
    LANGUAGE sql STABLE AS $$
    SELECT * FROM books WHERE tags @> wanted ORDER BY title
$$;
COMMENT ON FUNCTION tagged(text[]) IS
    'Books carrying every tag given (GET /api/rpc/tagged?wanted=a&wanted=b).';

CREATE FUNCTION book_count(of_genre genre DEFAULT NULL) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM books WHERE of_genre IS NULL OR genre = of_genre
$$;
COMMENT ON FUNCTION book_count(genre) IS 'How many books the catalogue holds, of one genre if given.';

CREATE FUNCTION book_count(by_author int) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM books WHERE author_id = by_author
$$;
COMMENT ON FUNCTION book_count(int) IS 'How many books one author wrote.';

CREATE FUNCTION copies_per_branch()
    RETURNS TABLE (branch_id int, branch text, copies bigint)
    LANGUAGE sql STABLE AS $$
    SELECT b.id, b.name, count(c.book_id)
      FROM branches b LEFT JOIN copies c ON c.branch_id = b.id
     GROUP BY b.id, b.name ORDER BY b.name
$$;
COMMENT ON FUNCTION copies_per_branch() IS 'How many copies each branch shelves.';

CREATE FUNCTION member_stats()
    RETURNS TABLE (member_id bigint, full_name text, open_loans bigint, total_loans bigint)
    LANGUAGE sql STABLE AS $$
    SELECT m.id, m.full_name, count(l.id) FILTER (WHERE l.returned_at IS NULL), count(l.id)
      FROM members m LEFT JOIN loans l ON l.member_id = m.id
     GROUP BY m.id, m.full_name ORDER BY m.id
$$;
COMMENT ON FUNCTION member_stats() IS 'Open and total loans of every member (librarians only).';
REVOKE EXECUTE ON FUNCTION member_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION member_stats() TO librarian;

CREATE FUNCTION renew_loan(loan_id bigint, days int DEFAULT 14) RETURNS loans
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    renewed loans;
BEGIN
    IF days NOT BETWEEN 1 AND 28 THEN
        RAISE EXCEPTION 'a loan is renewed by 1 to 28 days, not %', days
            USING HINT = 'send days between 1 and 28';
    END IF;
    UPDATE loans SET due_on = due_on + days,
                     extension = coalesce(extension, interval '0') + make_interval(days => days)
     WHERE id = loan_id AND returned_at IS NULL
    RETURNING * INTO renewed;
    IF renewed.id IS NULL THEN
        -- PostgREST's custom error: the status and headers come from DETAIL, as JSON.
        RAISE SQLSTATE 'PGRST' USING
            MESSAGE = json_build_object('code', 'LOAN1', 'message',
                                        format('no open loan %s', loan_id))::text,
            DETAIL = json_build_object('status', 404,
                                       'headers', json_build_object('X-Loan', loan_id))::text;
    END IF;
    RETURN renewed;
END
$$;
COMMENT ON FUNCTION renew_loan(bigint, int) IS
    'Push an open loan''s due date back by days (1 to 28); 404 when no such open loan.';
REVOKE EXECUTE ON FUNCTION renew_loan(bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION renew_loan(bigint, int) TO librarian;

CREATE FUNCTION return_copy(loan_id bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE loans SET returned_at = now() WHERE id = loan_id AND returned_at IS NULL;
    IF NOT FOUND THEN
        RAISE SQLSTATE 'PT409' USING MESSAGE = format('loan %s is not open', loan_id),
                                     HINT = 'only an open loan can be returned';
    END IF;
END
$$;
COMMENT ON FUNCTION return_copy(bigint) IS 'Check a lent copy back in; 409 unless the loan is open.';
REVOKE EXECUTE ON FUNCTION return_copy(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION return_copy(bigint) TO librarian;

CREATE FUNCTION whoami() RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'role', current_user,
        'claims', nullif(current_setting('request.jwt.claims', true), '')::jsonb,
        'method', current_setting('request.method', true),
        'path', current_setting('request.path', true),
        'user_agent', nullif(current_setting('request.headers', true), '')::jsonb
                      ->> 'user-agent')
$$;
COMMENT ON FUNCTION whoami() IS
    'Who a request runs as: its role and JWT claims, its method, path and User-Agent.';

-- A function of a table's row returning one value is a computed column of that table:
-- /api/books?select=title,available_copies&available_copies=gt.2&order=available_copies.desc
CREATE FUNCTION available_copies(books) RETURNS bigint
    LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM copies c
     WHERE c.book_id = $1.id
       AND NOT EXISTS (SELECT FROM loans l
                        WHERE l.book_id = c.book_id AND l.copy_no = c.copy_no
                          AND l.returned_at IS NULL)
$$;
COMMENT ON FUNCTION available_copies(books) IS 'Copies of the book on a shelf now (not lent out).';

-- A function of a table's row returning rows of a table is a computed relationship, embedded
-- by its name: /api/books?select=title,sequels(title)
CREATE FUNCTION sequels(books) RETURNS SETOF books
    LANGUAGE sql STABLE AS $$
    SELECT * FROM books WHERE sequel_of = $1.id ORDER BY published_on, title
$$;
COMMENT ON FUNCTION sequels(books) IS 'The books that are sequels of this one.';
