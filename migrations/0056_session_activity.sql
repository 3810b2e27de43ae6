-- What the citizen's list of signed-in sessions shows beside the provider's own Session rows
-- (issue 10): from which browser (a summary, not the User-Agent) and address, first and last use.
-- Written at each authorization through the session; one row per session (its stable uid).
create table session_activity (
  session_uid text primary key,
  citizen_id text not null,
  ip text,
  browser text,
  system text,
  first_at timestamptz not null default now(),
  last_at timestamptz not null default now()
);
create index session_activity_citizen on session_activity (citizen_id);
