-- Foreigners (issue 12). Each service says whether it accepts them: off unless the operator turns it
-- on, because a service built around the CPF must not meet an account without one by surprise.
alter table services add column accepts_foreigners boolean not null default false;
-- A foreigner signs in with a mobile number proven by SMS; an e-mail is optional for them. The unique
-- index on lower(email) ignores nulls, so several accounts without an e-mail coexist.
alter table citizens alter column email drop not null;
-- A contract field may treat foreigners apart: required of Brazilians, optional or not asked of
-- foreigners. Null: as for Brazilians, unless the catalog says the field is one kind's only (CPF).
alter table service_fields add column foreigners text check (foreigners in ('required', 'optional', 'absent'));
