-- 001_extensions.sql
-- Extensions required by the lending library sample schema.
--   citext : case-insensitive text, the base type of the email_address domain.
-- gen_random_uuid() (used for books.id) is built in since PostgreSQL 13,
-- so pgcrypto is not needed.

CREATE EXTENSION IF NOT EXISTS citext;
