-- Account recovery (issue 10): one row per attempt, whether or not the identifier typed belongs to
-- an account (citizen_id null: nobody's), so the pages and the work are the same for both. The row
-- is the attempt's state (which way, proven or not) and its record (/conta shows recent attempts).
-- A reset leaves a "this was not me" token, kept as a keyed digest, that locks the account.
create table recovery_attempts (
  id text primary key,
  citizen_id text references citizens(id),
  interaction_uid text,
  state text not null default 'started' check (state in ('started', 'code_sent', 'proven', 'reset', 'failed')),
  strategy text,
  code_flow_id text,
  -- wrong codes typed against an attempt for nobody (an account's tries are its code's)
  fake_tries integer not null default 0,
  data jsonb not null default '{}',
  ip text,
  user_agent text,
  not_me_digest text unique,
  not_me_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index recovery_attempts_citizen on recovery_attempts (citizen_id, created_at desc) where citizen_id is not null;
