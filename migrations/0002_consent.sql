-- Dynamic registration: field contracts per service, versioned terms, consent records (LGPD).

-- Catalog fields that have no column of their own (address, mother's name, ...), by catalog key.
alter table citizens add column profile jsonb not null default '{}';

-- Services the city runs itself (the citizen's account pages): no terms to accept.
alter table services add column first_party boolean not null default false;

-- A service's data contract: which catalog fields it consumes, required or not, and why.
create table service_fields (
  client_id text not null references services (client_id) on delete cascade,
  field_key text not null,
  required boolean not null,
  purpose jsonb not null,                    -- {"pt-BR": "...", "en": "...", "es": "..."}
  position integer not null default 0,
  added_at timestamptz not null default now(),
  primary key (client_id, field_key)
);

-- Terms of use, one row per published version; never updated or deleted (evidence for consents).
create table service_terms (
  client_id text not null,
  version integer not null,
  text_markdown text not null,
  sha256 text not null,
  published_at timestamptz not null default now(),
  primary key (client_id, version)
);
insert into service_terms (client_id, version, text_markdown, sha256, published_at)
  select client_id, 1, terms_markdown, encode(sha256(convert_to(terms_markdown, 'UTF8')), 'hex'), created_at
  from services where terms_markdown <> '';
alter table services drop column terms_markdown;

-- Append-only consent evidence: who accepted which terms version of which service, which fields
-- were shared, when, from where, how authenticated; and revocations.
create table consents (
  id bigserial primary key,
  citizen_id text not null,
  client_id text not null,
  action text not null check (action in ('granted', 'revoked')),
  terms_version integer,
  terms_sha256 text,
  fields_offered text[] not null default '{}',
  fields_shared text[] not null default '{}',
  ip text,
  user_agent text,
  acr text,
  amr text[],
  created_at timestamptz not null default now()
);
create index consents_citizen on consents (citizen_id, id);

-- The live consent per citizen and service, kept in the same transaction as each record.
create table consent_current (
  citizen_id text not null references citizens (id) on delete cascade,
  client_id text not null references services (client_id) on delete cascade,
  consent_id bigint not null references consents (id),
  terms_version integer,
  fields_offered text[] not null,
  fields_shared text[] not null,
  granted_at timestamptz not null,
  primary key (citizen_id, client_id)
);
create index consent_current_client on consent_current (client_id);

create function cidadela_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'table % is append-only', tg_table_name using errcode = '55000';
end;
$$;
create trigger consents_append_only before update or delete on consents
  for each row execute function cidadela_refuse_change();
create trigger service_terms_append_only before update or delete on service_terms
  for each row execute function cidadela_refuse_change();

-- Revoking a consent removes that service's grants and tokens for the citizen.
create index oidc_payloads_account_client on oidc_payloads ((payload->>'accountId'), (payload->>'clientId'))
  where model in ('Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode');
