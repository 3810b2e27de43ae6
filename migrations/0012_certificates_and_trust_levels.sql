-- Certificate sign-in (issue 17): the handoff from the login page to the certificate's own
-- listener is single-use, so each one used is remembered until it would have expired anyway.
create table certificate_handoffs (
  id text primary key,
  interaction_uid text not null,
  used_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index certificate_handoffs_expires on certificate_handoffs (expires_at);

-- A certificate read in an interaction whose CPF has no account yet: the registration form of that
-- interaction opens filled from it, and the account it creates starts with that data verified.
create table certificate_readings (
  interaction_uid text primary key,
  identity jsonb not null,
  issuer text not null,
  serial text not null,
  read_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index certificate_readings_expires on certificate_readings (expires_at);

-- Trust levels (bronze, prata, ouro) per account, with the history of what raised or lowered them.
alter table citizens add column trust_level text not null default 'bronze'
  check (trust_level in ('bronze', 'prata', 'ouro'));
create table trust_level_changes (
  id text primary key,
  citizen_id text not null references citizens (id) on delete cascade,
  from_level text not null,
  to_level text not null,
  reason text not null,                     -- certificate_sign_in, field_edited, ...
  detail jsonb not null default '{}',
  changed_at timestamptz not null default now()
);
create index trust_level_changes_citizen on trust_level_changes (citizen_id, changed_at);

-- Per-field provenance: a value confirmed by a trusted source (today an ICP-Brasil certificate).
-- Editing the field deletes its row.
create table field_verifications (
  citizen_id text not null references citizens (id) on delete cascade,
  field text not null,                      -- catalog key: name, cpf, birthdate
  trust_framework text not null,            -- icp_brasil
  evidence jsonb not null,                  -- issuer, serial, level, kind
  verified_at timestamptz not null default now(),
  primary key (citizen_id, field)
);

-- Companies an e-CNPJ links to its responsible person's account.
create table citizen_companies (
  citizen_id text not null references citizens (id) on delete cascade,
  cnpj text not null,
  name text not null,
  evidence jsonb not null,
  linked_at timestamptz not null default now(),
  primary key (citizen_id, cnpj)
);

-- The lowest trust level a service accepts; below it the citizen is offered the step-up.
alter table services add column min_trust_level text not null default 'bronze'
  check (min_trust_level in ('bronze', 'prata', 'ouro'));
