-- The citizen's own request to delete the account (issue 16, decision 28): the purge runs when
-- `due_at` has passed, unless the citizen cancels before. One pending request per account; the row
-- goes with the purge (its eraser) or with the cancellation.
create table account_deletions (
  citizen_id text primary key references citizens (id),
  requested_at timestamptz not null default now(),
  due_at timestamptz not null,
  -- How the citizen confirmed it (password or code): what the request rests on.
  confirmed_by text not null check (confirmed_by in ('password', 'code'))
);
create index account_deletions_due on account_deletions (due_at);
