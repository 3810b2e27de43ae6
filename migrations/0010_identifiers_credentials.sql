-- Typed identifiers and credentials (issue 7): a citizen may have no CPF, several e-mails, a phone
-- as login, and later many passkeys and certificates. The profile columns citizens.cpf, .email and
-- .phone_number stay as the primary values the claims are read from; the identity store keeps them
-- and `identifiers` in step in the same transaction (decision 13).

create table identifiers (
  id bigserial primary key,
  citizen_id text not null references citizens (id) on delete cascade,
  kind text not null check (kind in ('cpf', 'email', 'phone')),
  value text not null,                       -- CPF: 11 digits; e-mail: as typed; phone: E.164
  verified boolean not null default false,
  verified_at timestamptz,
  created_at timestamptz not null default now(),
  check (verified = (verified_at is not null))
);
create index identifiers_citizen on identifiers (citizen_id);
-- One index per kind, so a conflict's constraint name says which kind was taken. A CPF and an
-- e-mail belong to one citizen whether verified or not (as they did in `citizens`). A mobile number
-- is shared by families and reassigned by carriers: it is unique only once proven by SMS, which is
-- also when it may be used to sign in.
create unique index identifiers_cpf_key on identifiers (value) where kind = 'cpf';
create unique index identifiers_email_key on identifiers (lower(value)) where kind = 'email';
create unique index identifiers_phone_key on identifiers (value) where kind = 'phone' and verified;

-- Backfill from the primary values. A deleted account keeps none. The time of a verification made
-- before this migration is unknown: the row's last update stands in for it.
insert into identifiers (citizen_id, kind, value, verified, verified_at, created_at)
  select id, 'cpf', cpf, false, null, created_at from citizens where cpf is not null and status <> 'deleted';
insert into identifiers (citizen_id, kind, value, verified, verified_at, created_at)
  select id, 'email', email, email_verified, case when email_verified then updated_at end, created_at
  from citizens where status <> 'deleted';
-- Two accounts may have proven the same number before it had to be unique: the first account
-- created keeps it as a sign-in identifier; the others keep it unverified there (their claim still
-- says what they proved; proving it again is refused while the first holds it).
insert into identifiers (citizen_id, kind, value, verified, verified_at, created_at)
  select c.id, 'phone', c.phone_number, v.first, case when v.first then c.updated_at end, c.created_at
  from citizens c
  cross join lateral (
    select c.phone_number_verified and not exists (
      select 1 from citizens o
      where o.phone_number = c.phone_number and o.phone_number_verified and o.status <> 'deleted'
        and (o.created_at, o.id) < (c.created_at, c.id)
    ) as first
  ) v
  where c.phone_number is not null and c.status <> 'deleted';

-- What proves a citizen is who they say: a password today; later an authenticator (TOTP),
-- passkeys, a secret question, recovery codes, certificates. `secret` holds what must never leave
-- the server (the argon2id hash); `data` what a method needs beside it (a passkey's public key, a
-- certificate's subject); `version` is the format of both, so a method can upgrade its own rows.
create table credentials (
  id text primary key,
  citizen_id text not null references citizens (id) on delete cascade,
  type text not null check (type in ('password', 'totp', 'passkey', 'secret_question', 'recovery_codes', 'certificate')),
  secret text,
  data jsonb not null default '{}',
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz
);
create index credentials_citizen on credentials (citizen_id, type);
-- A citizen has at most one of these; passkeys and certificates may be many.
create unique index credentials_single on credentials (citizen_id, type)
  where type in ('password', 'totp', 'secret_question', 'recovery_codes');

insert into credentials (id, citizen_id, type, secret, created_at, updated_at)
  select gen_random_uuid()::text, id, 'password', password_hash, created_at, updated_at
  from citizens where password_hash is not null;
alter table citizens drop column password_hash;

-- The provider's rows name the account and the service they belong to in columns (filled by the
-- adapter on every write), so ending an account's sessions or revoking a service's grants is an
-- index lookup instead of a JSON-path scan (oidc/provider-state.ts).
alter table oidc_payloads add column account_id text;
alter table oidc_payloads add column client_id text;
update oidc_payloads set
  account_id = coalesce(payload->>'accountId', payload->'session'->>'accountId', payload->'result'->'login'->>'accountId'),
  client_id = coalesce(payload->>'clientId', payload->'params'->>'client_id');
drop index oidc_payloads_account_client;
create index oidc_payloads_account on oidc_payloads (account_id, client_id) where account_id is not null;

-- Deleting an account deletes the mail and SMS sent to its addresses (src/personal-data.ts).
create index messages_recipient on messages (lower(recipient));
