-- Mobile and browser apps as services (public clients): their kind, the browser origins a browser
-- app may call the token endpoint from, and whether a service's tokens must be DPoP-bound.

alter table services add column client_type text not null default 'confidential'
  check (client_type in ('confidential', 'native', 'spa'));
alter table services add column allowed_origins text[] not null default '{}';
alter table services add column dpop_bound_access_tokens boolean not null default false;

-- A public client authenticates with nothing but PKCE ('none') and never holds a secret; a
-- confidential one always authenticates.
alter table services drop constraint services_token_endpoint_auth_method_check;
alter table services add constraint services_token_endpoint_auth_method_check
  check (token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'));
alter table services add constraint services_public_clients_have_no_secret
  check ((client_type = 'confidential') = (token_endpoint_auth_method <> 'none')
     and (client_type = 'confidential' or client_secret_hash is null));
