import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

/**
 * The only way the rest of the code changes what the provider stores (sessions, grants, tokens,
 * codes, interactions). Identity, consent and services each declare the part they need as a type of
 * their own; this implements all three over `oidc_payloads`, inside the caller's transaction, so
 * that the change and the end of the sessions commit together. When short-lived models move out
 * of PostgreSQL (DESIGN: Redis), this file changes and its callers do not.
 */
export type ProviderState = {
  /** Ends every session of the account, with its grants, tokens, codes and interactions. */
  endAccountSessions(trx: Db, accountId: string): Promise<void>;
  /** Removes the account's grants and what was issued under them: for one service, or for all. */
  revokeGrants(trx: Db, accountId: string, clientId?: string): Promise<void>;
  /** Forgets a service: every row the provider keeps for it. */
  forgetClient(trx: Db, clientId: string): Promise<void>;
};

/** What a grant covers: revoking it removes these (a Session outlives the grants it led to). */
const GRANT_MODELS = [
  'Grant',
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
];

/**
 * Over `oidc_payloads`: the adapter copies each row's account and service into `account_id` and
 * `client_id` (adapter.ts), indexed by account, so none of these reads a JSON path.
 */
export function createProviderState(): ProviderState {
  return {
    async endAccountSessions(trx, accountId) {
      await trx.deleteFrom('oidc_payloads').where('account_id', '=', accountId).execute();
    },

    async revokeGrants(trx, accountId, clientId) {
      let query = trx
        .deleteFrom('oidc_payloads')
        .where('account_id', '=', accountId)
        .where('model', 'in', GRANT_MODELS);
      if (clientId !== undefined) query = query.where('client_id', '=', clientId);
      await query.execute();
    },

    async forgetClient(trx, clientId) {
      // An operator's rare action: no index on client_id alone, which every token write would pay for.
      await trx.deleteFrom('oidc_payloads').where('client_id', '=', clientId).execute();
    },
  };
}

/** A deleted account's sessions and tokens end with it. */
export function providerStateEraser(state: Pick<ProviderState, 'endAccountSessions'>): Eraser {
  return {
    name: 'oidc/provider-state',
    erases: { oidc_payloads: 'deleted' },
    erase: (trx, citizenId) => state.endAccountSessions(trx, citizenId),
  };
}
