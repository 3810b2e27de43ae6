import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface CitizensTable {
  id: string;
  cpf: string | null;
  /** Null only for a foreigner who gave none (they sign in with their proven mobile number). */
  email: string | null;
  email_verified: Generated<boolean>;
  name: string;
  social_name: string | null;
  birthdate: ColumnType<string | null, string | null | undefined, string | null>;
  phone_number: string | null;
  phone_number_verified: Generated<boolean>;
  status: Generated<'active' | 'disabled' | 'deleted'>;
  locale: string | null;
  profile: ColumnType<Record<string, unknown>, string | undefined, string>;
  trust_level: Generated<'bronze' | 'prata' | 'ouro'>;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface ServicesTable {
  client_id: string;
  name: string;
  description: Generated<string>;
  client_secret_hash: string | null;
  token_endpoint_auth_method: Generated<'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'>;
  jwks: ColumnType<{ keys: unknown[] } | null, string | null | undefined, string | null>;
  redirect_uris: string[];
  post_logout_redirect_uris: Generated<string[]>;
  backchannel_logout_uri: string | null;
  first_party: Generated<boolean>;
  client_type: Generated<'confidential' | 'native' | 'spa'>;
  allowed_origins: Generated<string[]>;
  dpop_bound_access_tokens: Generated<boolean>;
  min_trust_level: Generated<'bronze' | 'prata' | 'ouro'>;
  accepts_foreigners: Generated<boolean>;
  require_second_factor: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: NullableTimestamp;
  consumed_at: NullableTimestamp;
  /** The account and the service a row belongs to, copied out of the payload by the adapter. */
  account_id: ColumnType<string | null, string | null | undefined, string | null>;
  client_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export type IdentifierKind = 'cpf' | 'email' | 'phone';

export interface IdentifiersTable {
  id: Generated<string>;
  citizen_id: string;
  kind: IdentifierKind;
  value: string;
  verified: Generated<boolean>;
  verified_at: NullableTimestamp;
  created_at: Timestamp;
}

export type CredentialType = 'password' | 'totp' | 'passkey' | 'secret_question' | 'recovery_codes' | 'certificate';

export interface CredentialsTable {
  id: string;
  citizen_id: string;
  type: CredentialType;
  secret: string | null;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_used_at: NullableTimestamp;
}

export interface WebauthnChallengesTable {
  id: string;
  purpose: 'registration' | 'authentication';
  challenge: string;
  citizen_id: string | null;
  interaction_uid: string | null;
  expires_at: Timestamp;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  encrypted_jwk: string;
  created_at: Timestamp;
  retired_at: NullableTimestamp;
}

export interface FlowsTable {
  id: string;
  kind: string;
  state: string;
  citizen_id: string | null;
  interaction_uid: string | null;
  code_hash: string | null;
  attempts: Generated<number>;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  expires_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RecoveryAttemptsTable {
  id: string;
  citizen_id: string | null;
  interaction_uid: string | null;
  state: 'started' | 'code_sent' | 'proven' | 'reset' | 'failed';
  strategy: string | null;
  code_flow_id: string | null;
  fake_tries: Generated<number>;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  ip: string | null;
  user_agent: string | null;
  not_me_digest: string | null;
  not_me_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  expires_at: Timestamp;
}

export interface VerificationsTable {
  id: string;
  interaction_uid: string;
  citizen_id: string;
  method: string;
  purpose: 'authentication' | 'address';
  factor: 'knowledge' | 'possession' | 'inherence';
  amr: string[];
  assurance: string;
  detail: ColumnType<Record<string, unknown>, string | undefined, string>;
  verified_at: Timestamp;
  expires_at: Timestamp;
}

export interface LoginThrottleTable {
  key: string;
  failures: Generated<number>;
  last_failure_at: Timestamp;
  locked_until: NullableTimestamp;
}

export interface MessagesTable {
  id: Generated<string>;
  channel: 'email' | 'sms';
  recipient: string;
  subject: string;
  body_text: string | null;
  body_html: string | null;
  status: Generated<'pending' | 'sent' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: NullableTimestamp;
}

export interface ServiceFieldsTable {
  client_id: string;
  field_key: string;
  required: boolean;
  purpose: ColumnType<Record<string, string>, string, string>;
  foreigners: ColumnType<'required' | 'optional' | 'absent' | null, 'required' | 'optional' | 'absent' | null | undefined, 'required' | 'optional' | 'absent' | null>;
  position: Generated<number>;
  added_at: Timestamp;
}

export interface ServiceTermsTable {
  client_id: string;
  version: number;
  text_markdown: string;
  sha256: string;
  published_at: Timestamp;
}

export interface ConsentsTable {
  id: Generated<string>;
  citizen_id: string;
  client_id: string;
  action: 'granted' | 'revoked';
  terms_version: number | null;
  terms_sha256: string | null;
  fields_offered: string[];
  fields_shared: string[];
  ip: string | null;
  user_agent: string | null;
  acr: string | null;
  amr: string[] | null;
  write_back: Generated<boolean>;
  created_at: Timestamp;
}

export interface ConsentCurrentTable {
  citizen_id: string;
  client_id: string;
  consent_id: string;
  terms_version: number | null;
  fields_offered: string[];
  fields_shared: string[];
  granted_at: Timestamp;
  write_back: Generated<boolean>;
}

export interface EventsTable {
  id: Generated<string>;
  citizen_id: string;
  type: string;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  origin_client_id: string | null;
  audience: string[] | null;
  created_at: Timestamp;
  fanned_out_at: NullableTimestamp;
}

export interface EventStreamsTable {
  client_id: string;
  method: Generated<'poll' | 'amqp' | 'push'>;
  push_url: string | null;
  paused_at: NullableTimestamp;
  consecutive_failures: Generated<number>;
  next_attempt_at: Timestamp;
  last_delivery_at: NullableTimestamp;
  last_error: string | null;
  updated_at: Timestamp;
}

export interface EventDeliveriesTable {
  id: Generated<string>;
  client_id: string;
  citizen_id: string;
  event_id: string;
  jti: string;
  event_type: string;
  payload: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  status: Generated<'pending' | 'sent' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: NullableTimestamp;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  hits: number;
}

export interface Database {
  rate_limits: RateLimitsTable;
  events: EventsTable;
  event_streams: EventStreamsTable;
  event_deliveries: EventDeliveriesTable;
  service_fields: ServiceFieldsTable;
  service_terms: ServiceTermsTable;
  consents: ConsentsTable;
  consent_current: ConsentCurrentTable;
  citizens: CitizensTable;
  identifiers: IdentifiersTable;
  credentials: CredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  services: ServicesTable;
  oidc_payloads: OidcPayloadsTable;
  signing_keys: SigningKeysTable;
  flows: FlowsTable;
  verifications: VerificationsTable;
  recovery_attempts: RecoveryAttemptsTable;
  login_throttle: LoginThrottleTable;
  messages: MessagesTable;
  certificate_handoffs: CertificateHandoffsTable;
  certificate_readings: CertificateReadingsTable;
  trust_level_changes: TrustLevelChangesTable;
  field_verifications: FieldVerificationsTable;
  citizen_companies: CitizenCompaniesTable;
  cpf_claims: CpfClaimsTable;
  security_events: SecurityEventsTable;
  session_activity: SessionActivityTable;
}

export interface CertificateHandoffsTable {
  id: string;
  interaction_uid: string;
  used_at: Timestamp;
  expires_at: Timestamp;
}

export interface CertificateReadingsTable {
  interaction_uid: string;
  identity: ColumnType<Record<string, unknown>, string, string>;
  issuer: string;
  serial: string;
  read_at: Timestamp;
  expires_at: Timestamp;
}

export interface TrustLevelChangesTable {
  id: string;
  citizen_id: string;
  from_level: string;
  to_level: string;
  reason: string;
  detail: ColumnType<Record<string, unknown>, string | undefined, string>;
  changed_at: Timestamp;
}

export interface FieldVerificationsTable {
  citizen_id: string;
  field: string;
  trust_framework: string;
  evidence: ColumnType<Record<string, unknown>, string, string>;
  verified_at: Timestamp;
}

export interface CitizenCompaniesTable {
  citizen_id: string;
  cnpj: string;
  name: string;
  evidence: ColumnType<Record<string, unknown>, string, string>;
  linked_at: Timestamp;
}

export interface CpfClaimsTable {
  id: string;
  /** The account that held the CPF without proving it, now disabled. */
  citizen_id: string;
  prover_id: string;
  trust_framework: string;
  evidence: ColumnType<Record<string, unknown>, string, string>;
  claimed_at: Timestamp;
}

/** The citizen's security record (migration 0055): append-only, erased only with the account. */
export interface SecurityEventsTable {
  id: Generated<string>;
  citizen_id: string;
  kind: 'sign_in' | 'recovery' | 'password_changed' | 'session_ended' | 'sessions_ended' | 'channel_added' | 'channel_verified' | 'channel_removed';
  result: Generated<string>;
  method: string | null;
  client_id: string | null;
  ip: string | null;
  browser: string | null;
  system: string | null;
  detail: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: ColumnType<Date, undefined, never>;
}

/** Where and when each provider session was used (migration 0056), keyed by the session's uid. */
export interface SessionActivityTable {
  session_uid: string;
  citizen_id: string;
  ip: string | null;
  browser: string | null;
  system: string | null;
  first_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
