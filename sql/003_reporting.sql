-- 003_reporting.sql
-- Schema reporting: analytics objects that sit next to the library tables.
--   tables : loan_events (partitioned by year on occurred_at, with a DEFAULT
--            partition), branch_targets
--   views  : monthly_loans
-- Requires 002_library.sql. Identity columns on partitioned tables need
-- PostgreSQL 17 or later.

CREATE SCHEMA reporting;

COMMENT ON SCHEMA reporting IS 'Reporting and analytics objects for the lending library.';

-- ---------------------------------------------------------------------------
-- loan_events
-- ---------------------------------------------------------------------------

CREATE TABLE reporting.loan_events (
    id           bigint       GENERATED ALWAYS AS IDENTITY,
    loan_id      bigint       NOT NULL REFERENCES public.loans (id),
    kind         text         NOT NULL
                              CHECK (kind IN ('loaned', 'renewed', 'returned', 'reminded')),
    occurred_at  timestamptz  NOT NULL,
    payload      jsonb,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);

COMMENT ON TABLE  reporting.loan_events             IS 'Append-only event log of the loan life cycle, range-partitioned by calendar year (UTC).';
COMMENT ON COLUMN reporting.loan_events.id          IS 'Event id (identity); unique together with occurred_at, as the partition key must be in the primary key.';
COMMENT ON COLUMN reporting.loan_events.loan_id     IS 'The loan the event belongs to.';
COMMENT ON COLUMN reporting.loan_events.kind        IS 'Event type: loaned, renewed, returned or reminded.';
COMMENT ON COLUMN reporting.loan_events.occurred_at IS 'When the event happened; the partition key.';
COMMENT ON COLUMN reporting.loan_events.payload     IS 'Event details; shape depends on kind.';

CREATE TABLE reporting.loan_events_2024 PARTITION OF reporting.loan_events
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE reporting.loan_events_2025 PARTITION OF reporting.loan_events
    FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE TABLE reporting.loan_events_2026 PARTITION OF reporting.loan_events
    FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
CREATE TABLE reporting.loan_events_other PARTITION OF reporting.loan_events
    DEFAULT;

COMMENT ON TABLE reporting.loan_events_2024  IS 'Loan events of 2024 (UTC).';
COMMENT ON TABLE reporting.loan_events_2025  IS 'Loan events of 2025 (UTC).';
COMMENT ON TABLE reporting.loan_events_2026  IS 'Loan events of 2026 (UTC).';
COMMENT ON TABLE reporting.loan_events_other IS 'Default partition: events outside the yearly partitions; should stay empty.';

-- Created on the parent, so every partition gets a matching index.
CREATE INDEX loan_events_loan_id_idx ON reporting.loan_events (loan_id);

-- ---------------------------------------------------------------------------
-- branch_targets
-- ---------------------------------------------------------------------------

CREATE TABLE reporting.branch_targets (
    branch_id     int   NOT NULL REFERENCES public.branches (id),
    month         date  NOT NULL,
    target_loans  int   NOT NULL CHECK (target_loans >= 0),
    note          text,
    PRIMARY KEY (branch_id, month)
);

COMMENT ON TABLE  reporting.branch_targets              IS 'Monthly loan targets per branch.';
COMMENT ON COLUMN reporting.branch_targets.branch_id    IS 'Branch the target applies to (index: leading column of the primary key).';
COMMENT ON COLUMN reporting.branch_targets.month        IS 'First day of the target month.';
COMMENT ON COLUMN reporting.branch_targets.target_loans IS 'Number of loans the branch aims to make in the month.';
COMMENT ON COLUMN reporting.branch_targets.note         IS 'Planner''s remark on the target; NULL if none.';

-- ---------------------------------------------------------------------------
-- monthly_loans
-- ---------------------------------------------------------------------------

CREATE VIEW reporting.monthly_loans AS
SELECT br.name                                  AS branch_name,
       date_trunc('month', l.loaned_at)::date   AS month,
       count(*)                                 AS loan_count
  FROM public.loans    l
  JOIN public.copies   c  ON c.book_id = l.book_id AND c.copy_no = l.copy_no
  JOIN public.branches br ON br.id = c.branch_id
 GROUP BY br.name, date_trunc('month', l.loaned_at)::date;

COMMENT ON VIEW   reporting.monthly_loans             IS 'Loans per branch (branch owning the copy) and calendar month, in the session time zone.';
COMMENT ON COLUMN reporting.monthly_loans.branch_name IS 'Branch name (branches.name).';
COMMENT ON COLUMN reporting.monthly_loans.month       IS 'First day of the month of loaned_at; joins to branch_targets.month.';
COMMENT ON COLUMN reporting.monthly_loans.loan_count  IS 'Number of loans made in the month.';
