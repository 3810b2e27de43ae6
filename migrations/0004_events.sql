-- Events: an outbox written in the same transaction as each change; the relay fans each event out
-- into one delivery per service, kept per service for its transport (RabbitMQ, push or poll).

-- A deleted account keeps a tombstone row (its sub is never reused); its personal data is purged.
alter table citizens drop constraint citizens_status_check;
alter table citizens add constraint citizens_status_check check (status in ('active', 'disabled', 'deleted'));
alter table citizens add column deleted_at timestamptz;

-- The outbox. Ids of one citizen's events are in commit order: recordEvent locks the citizen row
-- before the id is drawn.
create table events (
  id bigserial primary key,
  citizen_id text not null,
  type text not null,
  data jsonb not null default '{}',
  origin_client_id text,                     -- the service whose write caused it: it gets no echo
  audience text[],                           -- fixed recipients; null: the citizen's consented services
  created_at timestamptz not null default now(),
  fanned_out_at timestamptz
);
create index events_unfanned on events (id) where fanned_out_at is null;
create index events_citizen on events (citizen_id, id);

-- How each service receives its events, and the state of its stream.
create table event_streams (
  client_id text primary key references services (client_id) on delete cascade,
  method text not null default 'poll' check (method in ('poll', 'amqp', 'push')),
  push_url text,
  paused_at timestamptz,                     -- push only: after too many failures in a row
  consecutive_failures integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_delivery_at timestamptz,
  last_error text,
  updated_at timestamptz not null default now(),
  check (method <> 'push' or push_url is not null)
);

-- One row per event per service: its SET claims (signed when sent), and where its delivery is.
create table event_deliveries (
  id bigserial primary key,
  client_id text not null references services (client_id) on delete cascade,
  citizen_id text not null,
  event_id bigint not null references events (id),
  jti text not null unique,
  event_type text not null,
  payload jsonb,                             -- null once the citizen's data was purged
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index event_deliveries_pending on event_deliveries (client_id, id) where status = 'pending';
create index event_deliveries_client_time on event_deliveries (client_id, created_at);
create index event_deliveries_citizen on event_deliveries (citizen_id);
create index event_deliveries_event on event_deliveries (event_id);
