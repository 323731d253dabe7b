-- Anonymous visitors may count loans, not see who borrowed what: web_anon reads every
-- column of loans but member_id (so `select=*` on loans is still refused), which is what
-- the sample team view's branch report (/team/branches) needs.
GRANT SELECT (id, book_id, copy_no, loaned_at, due_on, returned_at) ON loans TO web_anon;
CREATE POLICY loans_counted_by_anyone ON loans FOR SELECT TO web_anon USING (true);
