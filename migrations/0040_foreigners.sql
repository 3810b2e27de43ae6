-- Foreigners (issue 12). Each service says whether it accepts them: off unless the operator turns it
-- on, because a service built around the CPF must not meet an account without one by surprise.
alter table services add column accepts_foreigners boolean not null default false;
-- A foreigner signs in with a mobile number proven by SMS; an e-mail is optional for them. The unique
-- index on lower(email) ignores nulls, so several accounts without an e-mail coexist.
alter table citizens alter column email drop not null;
