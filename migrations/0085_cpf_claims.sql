-- Squatting a CPF (issue 8, finding 7): an account that held a CPF without ever proving it loses it
-- to an account whose owner proves it (an ICP-Brasil certificate, an attendant's in-person check).
-- One row per such claim: the account held (citizen_id), the one that proved the CPF (prover_id),
-- how it was proven and when. The CPF itself is not repeated here: it is the prover's now.
create table cpf_claims (
  id text primary key,
  citizen_id text not null references citizens (id) on delete cascade,
  prover_id text not null references citizens (id) on delete cascade,
  trust_framework text not null,            -- icp_brasil, in_person
  evidence jsonb not null,
  claimed_at timestamptz not null default now()
);
create index cpf_claims_citizen on cpf_claims (citizen_id);
create index cpf_claims_prover on cpf_claims (prover_id);
