import { sql } from 'kysely';
import { type CurrentConsent, toCurrentConsent } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import { type Citizen, companiesColumn, toCitizen } from '../identity/citizen-store.ts';
import { type FieldVerification, toFieldVerification } from '../identity/trust-levels.ts';

/**
 * What the provider needs about an account on a request (is it active, must it consent again,
 * which claims does it release): the citizen, its live consent for the service and its verified
 * fields, read together in one statement. Always read from the database, never cached across
 * requests, so a change of data or consent shows in the next token or userinfo; within one request
 * (`perRequest`) the consent check and the claims share one read.
 */
export type AccountSnapshot = {
  citizen: Citizen;
  /** The live consent for the service asked about (undefined: none, or no service asked). */
  consent: CurrentConsent | undefined;
  verifications: FieldVerification[];
};

export function createAccountSnapshots(db: Db) {
  async function read(accountId: string, clientId: string | undefined): Promise<AccountSnapshot | undefined> {
    // The citizen exactly as the citizen store reads it (with its companies), plus two columns.
    const row = await db
      .selectFrom('citizens')
      .selectAll('citizens')
      .select(companiesColumn)
      .select(sql<unknown>`(select to_json(cc) from consent_current cc where cc.citizen_id = citizens.id and cc.client_id = ${clientId ?? null})`.as('consent_json'))
      .select(sql<unknown>`(select coalesce(json_agg(fv), '[]'::json) from field_verifications fv where fv.citizen_id = citizens.id)`.as('verifications_json'))
      .where('citizens.id', '=', accountId)
      .executeTakeFirst();
    if (!row) return undefined;
    const { consent_json, verifications_json, ...citizen } = row;
    return {
      citizen: toCitizen(citizen),
      consent: consent_json ? toCurrentConsent(parsed(consent_json) as Parameters<typeof toCurrentConsent>[0]) : undefined,
      verifications: (parsed(verifications_json) as Parameters<typeof toFieldVerification>[0][]).map(toFieldVerification),
    };
  }
  return {
    /**
     * The snapshot, read once per `request` object (oidc-provider's context) and account/service:
     * the consent check and the claims of one request share it; the next request reads again.
     */
    get(accountId: string, clientId: string | undefined, request?: object): Promise<AccountSnapshot | undefined> {
      if (!request) return read(accountId, clientId);
      let memo = perRequest.get(request);
      if (!memo) perRequest.set(request, (memo = new Map()));
      const key = `${accountId}\u0000${clientId ?? ''}`;
      let found = memo.get(key);
      if (!found) {
        found = read(accountId, clientId);
        // A failed read is not remembered: the caller sees the error, a retry reads again.
        found.catch(() => memo.delete(key));
        memo.set(key, found);
      }
      return found;
    },
  };
}

const perRequest = new WeakMap<object, Map<string, Promise<AccountSnapshot | undefined>>>();

/** Drivers give `json` columns parsed; a string is parsed here (either way, the same value). */
function parsed(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

export type AccountSnapshots = ReturnType<typeof createAccountSnapshots>;
