import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

/**
 * The only way the rest of the code changes what the provider stores (sessions, grants, tokens,
 * codes, interactions). Identity, consent and services each declare the part they need as a type of
 * their own; this implements all three over `oidc_payloads`, inside the caller's transaction, so
 * that the change and the end of the sessions commit together. When short-lived models move out
 * of PostgreSQL (DESIGN: Redis), this file changes and its callers do not.
 */
/** A service a session signed in to, and the session id it was told (the logout token's `sid`). */
export type SessionLogout = { clientId: string; sid: string };

/** One signed-in browser of the account, as the provider keeps it. */
export type AccountSession = {
  /** The session's stable id (it survives the provider's identifier rotation at each sign-in). */
  uid: string;
  /** When the citizen last proved who they are in it (seconds), if known. */
  loginTs: number | null;
  expiresAt: Date | null;
  /** The services it reached, each with the `sid` a back-channel logout names. */
  clients: (SessionLogout & { grantId: string | null })[];
};

export type ProviderState = {
  /**
   * Ends every session of the account, with its grants, tokens, codes and interactions. Returns the
   * back-channel logouts owed to the services those sessions reached, to send after the commit.
   */
  endAccountSessions(trx: Db, accountId: string): Promise<SessionLogout[]>;
  /** The account's live sessions. */
  listSessions(db: Db, accountId: string): Promise<AccountSession[]>;
  /**
   * Ends some of the account's sessions (`uids`), or all but one (`exceptUid`), with the grants
   * they led to and what was issued under them; the logouts owed, as above.
   */
  endSessions(trx: Db, accountId: string, which: { uids: string[] } | { exceptUid: string }): Promise<SessionLogout[]>;
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
  async function sessionsOf(db: Db, accountId: string): Promise<AccountSession[]> {
    const rows = await db
      .selectFrom('oidc_payloads')
      .select(['uid', 'payload', 'expires_at'])
      .where('model', '=', 'Session')
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .execute();
    return rows.flatMap((row) => {
      const payload = row.payload as { uid?: unknown; loginTs?: unknown; authorizations?: Record<string, { sid?: unknown; grantId?: unknown }> };
      const uid = row.uid ?? (typeof payload.uid === 'string' ? payload.uid : null);
      if (!uid) return [];
      const clients = Object.entries(payload.authorizations ?? {}).flatMap(([clientId, a]) =>
        typeof a?.sid === 'string' ? [{ clientId, sid: a.sid, grantId: typeof a.grantId === 'string' ? a.grantId : null }] : [],
      );
      return [{ uid, loginTs: typeof payload.loginTs === 'number' ? payload.loginTs : null, expiresAt: row.expires_at, clients }];
    });
  }

  const logoutsOf = (sessions: AccountSession[]) => sessions.flatMap((s) => s.clients.map(({ clientId, sid }) => ({ clientId, sid })));

  return {
    async endAccountSessions(trx, accountId) {
      const logouts = logoutsOf(await sessionsOf(trx, accountId));
      await trx.deleteFrom('oidc_payloads').where('account_id', '=', accountId).execute();
      return logouts;
    },

    listSessions: sessionsOf,

    async endSessions(trx, accountId, which) {
      const ending = (await sessionsOf(trx, accountId)).filter((s) => ('uids' in which ? which.uids.includes(s.uid) : s.uid !== which.exceptUid));
      if (ending.length === 0) return [];
      const grants = ending.flatMap((s) => s.clients.flatMap((c) => (c.grantId ? [c.grantId] : [])));
      if (grants.length) {
        // The grants these sessions led to, and every token and code issued under them.
        await trx
          .deleteFrom('oidc_payloads')
          .where('account_id', '=', accountId)
          .where((eb) => eb.or([eb('grant_id', 'in', grants), eb.and([eb('model', '=', 'Grant'), eb('id', 'in', grants)])]))
          .execute();
      }
      await trx
        .deleteFrom('oidc_payloads')
        .where('model', '=', 'Session')
        .where('account_id', '=', accountId)
        .where('uid', 'in', ending.map((s) => s.uid))
        .execute();
      return logoutsOf(ending);
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
    erase: async (trx, citizenId) => {
      await state.endAccountSessions(trx, citizenId);
    },
  };
}
