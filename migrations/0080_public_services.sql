-- The home page lists the city services a citizen can use with the account (issue 16): a service
-- is listed when the operator marks it public, with the address where citizens start using it.
alter table services add column public boolean not null default false;
alter table services add column home_url text;
