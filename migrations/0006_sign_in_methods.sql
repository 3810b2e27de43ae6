-- Sign-in methods record what they proved, per interaction, server-side: one place derives amr, acr
-- and auth_time from these rows, and a method on another listener (the certificate) can leave its
-- proof for an interaction whose cookie it never saw.
create table verifications (
  id text primary key,
  interaction_uid text not null,
  citizen_id text not null references citizens (id) on delete cascade,
  method text not null,                      -- the method's id: password, email_code, ...
  purpose text not null check (purpose in ('authentication', 'address')),
  factor text not null check (factor in ('knowledge', 'possession', 'inherence')),
  amr text[] not null default '{}',          -- RFC 8176 values this proof contributes
  assurance text not null,                   -- bronze | prata | ouro
  detail jsonb not null default '{}',
  verified_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index verifications_interaction on verifications (interaction_uid);
create index verifications_citizen on verifications (citizen_id);
create index verifications_expires on verifications (expires_at);

-- One code mechanism: a code row's kind is its purpose, and its data names the channel and address.
update flows set
  kind = case when data->>'change' = 'true' then 'email_change' else 'email_confirmation' end,
  data = (data - 'email' - 'change') || jsonb_build_object('channel', 'email', 'address', data->>'email')
where kind = 'email_verification';
update flows set
  data = (data - 'phone') || jsonb_build_object('channel', 'sms', 'address', data->>'phone')
where kind = 'phone_verification';
