-- Write access (cidadela:write) is consented explicitly, recorded with the consent, and revocable.
-- Consents given before this record none: a service asking to write shows the screen again.
alter table consents add column write_back boolean not null default false;
alter table consent_current add column write_back boolean not null default false;
