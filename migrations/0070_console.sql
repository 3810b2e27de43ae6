-- The operators' console (issue 13, decision 23).

-- Who may open the console, and as what. A citizen account signs in to the console like to any
-- service; these rows say which of them are operators. Granted and revoked with `cidadela operator`.
create table operators (
  citizen_id text not null references citizens (id) on delete cascade,
  role text not null check (role in ('admin', 'attendant', 'auditor')),
  granted_at timestamptz not null default now(),
  granted_by text not null,
  primary key (citizen_id, role)
);

-- Every operator action (console, CLI, admin API): who, what, on which account or service, why.
-- Append-only: the database refuses updates, and deletes except the retention prune, which sets
-- `cidadela.audit_prune_before` (a time) in its own transaction: only rows older than it may go.
create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor text not null,
  operator_id text,
  kind text not null,
  citizen_id text,
  client_id text,
  reason text,
  detail jsonb not null default '{}'
);
create index audit_log_at on audit_log (at);
create index audit_log_citizen on audit_log (citizen_id, at) where citizen_id is not null;
create index audit_log_operator on audit_log (operator_id, at) where operator_id is not null;
create index audit_log_client on audit_log (client_id, at) where client_id is not null;
create index audit_log_kind on audit_log (kind, at);

create function cidadela_audit_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' and coalesce(current_setting('cidadela.audit_prune_before', true), '') <> ''
     and old.at < current_setting('cidadela.audit_prune_before', true)::timestamptz then
    return old;
  end if;
  raise exception 'table % is append-only', tg_table_name using errcode = '55000';
end;
$$;
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function cidadela_audit_guard();
