-- Second factors (issue 11): authenticator-app codes (TOTP) and passkeys are rows of `credentials`
-- (types reserved by 0010). A service may require a second step of every citizen it signs in.
alter table services add column require_second_factor boolean not null default false;

-- A passkey is found by the id its authenticator gives it (sign-in without a typed identifier).
create unique index credentials_passkey_id on credentials ((data ->> 'credentialId')) where type = 'passkey';

-- WebAuthn challenges, each spent once: to add a passkey (a signed-in citizen) or to sign in with one
-- (an interaction, no citizen known yet). Pruned once expired.
create table webauthn_challenges (
  id text primary key,
  purpose text not null check (purpose in ('registration', 'authentication')),
  challenge text not null,
  citizen_id text references citizens (id) on delete cascade,
  interaction_uid text,
  expires_at timestamptz not null
);
create index webauthn_challenges_citizen on webauthn_challenges (citizen_id);
