-- Core: citizens, services, provider state, keys, flows, throttling, messages.

create table citizens (
  id text primary key,                       -- the OIDC sub: opaque, random, stable
  cpf text unique,                           -- 11 digits, normalised; null for foreigners (later)
  email text not null,
  email_verified boolean not null default false,
  name text not null,
  social_name text,
  birthdate date,
  phone_number text,
  phone_number_verified boolean not null default false,
  password_hash text,
  status text not null default 'active' check (status in ('active', 'disabled')),
  locale text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index citizens_email_key on citizens (lower(email));

create table services (
  client_id text primary key,
  name text not null,
  description text not null default '',
  client_secret_hash text,
  token_endpoint_auth_method text not null default 'client_secret_basic'
    check (token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post', 'private_key_jwt')),
  jwks jsonb,
  redirect_uris text[] not null,
  post_logout_redirect_uris text[] not null default '{}',
  backchannel_logout_uri text,
  terms_markdown text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Everything oidc-provider stores (sessions, interactions, codes, tokens, grants, ...).
create table oidc_payloads (
  model text not null,
  id text not null,
  payload jsonb not null,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  consumed_at timestamptz,
  primary key (model, id)
);
create index oidc_payloads_grant on oidc_payloads (grant_id) where grant_id is not null;
create index oidc_payloads_uid on oidc_payloads (uid) where uid is not null;
create index oidc_payloads_expires on oidc_payloads (expires_at) where expires_at is not null;

create table signing_keys (
  kid text primary key,
  alg text not null,
  encrypted_jwk text not null,              -- AES-256-GCM under a key derived from SECRET_KEY
  created_at timestamptz not null default now(),
  retired_at timestamptz                     -- still published until retired_at + longest token life
);

-- A flow is a stored state machine (registration's e-mail confirmation, later recovery, ...).
create table flows (
  id text primary key,
  kind text not null,
  state text not null,
  citizen_id text references citizens (id) on delete cascade,
  interaction_uid text,
  code_hash text,
  attempts integer not null default 0,
  data jsonb not null default '{}',
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index flows_citizen on flows (citizen_id);

-- Failed password checks, per account and per client address.
create table login_throttle (
  key text primary key,
  failures integer not null default 0,
  last_failure_at timestamptz not null default now(),
  locked_until timestamptz
);

-- Mail (and later SMS) queued as records, sent by a worker after the commit.
create table messages (
  id bigserial primary key,
  channel text not null check (channel in ('email', 'sms')),
  recipient text not null,
  subject text not null,
  body_text text,
  body_html text,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index messages_pending on messages (next_attempt_at) where status = 'pending';
