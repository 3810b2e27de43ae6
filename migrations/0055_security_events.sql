-- The citizen's security record (issue 10, security pages): sign-ins that worked or failed, recovery
-- attempts, password changes, sessions ended, recovery channels changed. One row per fact, never
-- changed: the citizen's page, the operators' audit log and the support desk read the same rows.
-- No CPF, code, token or secret is written here: the method, the service, the address, and a
-- summary of the browser ("Firefox", "Linux"), never the whole User-Agent.
create table security_events (
  id bigserial primary key,
  citizen_id text not null,
  kind text not null check (kind in (
    'sign_in', 'recovery', 'password_changed', 'session_ended', 'sessions_ended', 'channel_added',
    'channel_verified', 'channel_removed'
  )),
  result text not null default 'success',
  method text,
  client_id text,
  ip text,
  browser text,
  system text,
  detail jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index security_events_citizen on security_events (citizen_id, id desc);

-- Append-only like the consent records, with one door: the eraser of a deleted account
-- (personal-data.ts) names that account in a transaction-local setting, and only its rows may go.
create function cidadela_security_events_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' and current_setting('cidadela.erasing_citizen', true) = old.citizen_id then
    return old;
  end if;
  raise exception 'table % is append-only', tg_table_name using errcode = '55000';
end;
$$;
create trigger security_events_append_only before update or delete on security_events
  for each row execute function cidadela_security_events_guard();
