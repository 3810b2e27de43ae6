-- Usage reports (issue 13, decision 23): counters per day, service and metric, kept by one upsert
-- per access instead of counting raw rows when a report is read.
create table usage_daily (
  day date not null,
  client_id text not null,
  metric text not null,
  n bigint not null,
  primary key (day, client_id, metric)
);
create index usage_daily_client on usage_daily (client_id, day);

-- Who was already counted this month, per service and overall (client_id ''), so unique citizens
-- are counted once. Erased with the account; the counters it fed stay (they hold no one).
create table usage_seen (
  month date not null,
  client_id text not null,
  citizen_id text not null,
  primary key (month, client_id, citizen_id)
);
create index usage_seen_citizen on usage_seen (citizen_id);
create index citizens_created_at on citizens (created_at);
