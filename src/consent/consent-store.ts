import type { Db } from '../db/database.ts';
import { recordEvent } from '../events/outbox.ts';
import type { Eraser } from '../platform/erasure.ts';
import type { Service } from '../services/service-store.ts';

export type CurrentConsent = {
  consentId: string;
  termsVersion: number | null;
  fieldsOffered: string[];
  fieldsShared: string[];
  grantedAt: Date;
  /** The citizen let the service update their data on their behalf (cidadela:write). */
  writeBack: boolean;
};

export type ConsentNeed =
  | { needed: false; current: CurrentConsent | undefined }
  | {
      needed: true;
      reason: 'first' | 'terms' | 'fields' | 'write';
      current: CurrentConsent | undefined;
      /** Contract fields the citizen was never shown. */
      newFields: string[];
      termsChanged: boolean;
    };

export type ConsentContext = { ip: string | null; userAgent: string | null; acr: string | null; amr: string[] | null };

/** The scope a service asks for to write a citizen's data back; the citizen consents to it apart. */
export const WRITE_SCOPE = 'cidadela:write';

export type ConsentRecord = {
  id: string;
  clientId: string;
  serviceName: string | null;
  action: 'granted' | 'revoked';
  termsVersion: number | null;
  termsSha256: string | null;
  fieldsOffered: string[];
  fieldsShared: string[];
  ip: string | null;
  userAgent: string | null;
  acr: string | null;
  amr: string[] | null;
  writeBack: boolean;
  createdAt: Date;
};

/**
 * Whether the citizen must see the consent screen of `service` again, and why. `wantsWrite`: this
 * request asks for write access, which needs a consent of its own.
 */
export function consentNeed(service: Service, current: CurrentConsent | undefined, wantsWrite = false): ConsentNeed {
  if (service.firstParty) return { needed: false, current };
  const contractKeys = service.fields.map((f) => f.key);
  if (!current) return { needed: true, reason: 'first', current, newFields: contractKeys, termsChanged: false };
  const newFields = contractKeys.filter((k) => !current.fieldsOffered.includes(k));
  const missingRequired = service.fields.some((f) => f.required && !current.fieldsShared.includes(f.key));
  const termsChanged = (service.terms?.version ?? null) !== current.termsVersion;
  if (termsChanged) return { needed: true, reason: 'terms', current, newFields, termsChanged };
  if (newFields.length || missingRequired) return { needed: true, reason: 'fields', current, newFields, termsChanged };
  if (wantsWrite && !current.writeBack) return { needed: true, reason: 'write', current, newFields, termsChanged };
  return { needed: false, current };
}

/** A `consent_current` row (from the driver, or from `to_json` in a query that reads it with others). */
export function toCurrentConsent(row: {
  consent_id: string;
  terms_version: number | null;
  fields_offered: string[];
  fields_shared: string[];
  granted_at: Date | string;
  write_back: boolean;
}): CurrentConsent {
  return {
    consentId: row.consent_id,
    termsVersion: row.terms_version,
    fieldsOffered: row.fields_offered,
    fieldsShared: row.fields_shared,
    grantedAt: new Date(row.granted_at),
    writeBack: row.write_back,
  };
}

/** What consent needs from the provider's storage (oidc/provider-state.ts implements it). */
export type ProviderGrants = {
  /** Removes the account's grants and the tokens and codes issued under them: for one service, or all. */
  revokeGrants(trx: Db, accountId: string, clientId?: string): Promise<void>;
};

/**
 * LGPD evidence: every consent and revocation is a new row in `consents` (the table refuses
 * updates and deletes); `consent_current` holds the live one per citizen and service, written in
 * the same transaction.
 */
export function createConsentStore(db: Db, deps: { provider: ProviderGrants }) {
  const { provider } = deps;
  async function current(citizenId: string, clientId: string, trx: Db = db): Promise<CurrentConsent | undefined> {
    const row = await trx
      .selectFrom('consent_current')
      .selectAll()
      .where('citizen_id', '=', citizenId)
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    return row ? toCurrentConsent(row) : undefined;
  }

  return {
    current,

    async need(citizenId: string, service: Service, wantsWrite = false): Promise<ConsentNeed> {
      return consentNeed(service, await current(citizenId, service.clientId), wantsWrite);
    },

    /** Records an acceptance inside the caller's transaction (the data typed on the screen goes with it). */
    async grant(
      trx: Db,
      input: { citizenId: string; service: Service; fieldsShared: string[]; context: ConsentContext; writeBack?: boolean },
    ): Promise<string> {
      const writeBack = input.writeBack ?? false;
      const { service, context } = input;
      const offered = service.fields.map((f) => f.key);
      // The event first: it locks the citizen row before the consent rows, as revoke does.
      await recordEvent(trx, {
        type: 'consent.granted',
        citizenId: input.citizenId,
        clientId: service.clientId,
        fieldsShared: input.fieldsShared,
        termsVersion: service.terms?.version ?? null,
      });
      const row = await trx
        .insertInto('consents')
        .values({
          citizen_id: input.citizenId,
          client_id: service.clientId,
          action: 'granted',
          terms_version: service.terms?.version ?? null,
          terms_sha256: service.terms?.sha256 ?? null,
          fields_offered: offered,
          fields_shared: input.fieldsShared,
          ip: context.ip,
          user_agent: context.userAgent?.slice(0, 500) ?? null,
          acr: context.acr,
          amr: context.amr,
          write_back: writeBack,
        })
        .returning(['id', 'created_at'])
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('consent_current')
        .values({
          citizen_id: input.citizenId,
          client_id: service.clientId,
          consent_id: row.id,
          terms_version: service.terms?.version ?? null,
          fields_offered: offered,
          fields_shared: input.fieldsShared,
          granted_at: row.created_at,
          write_back: writeBack,
        })
        .onConflict((oc) =>
          oc.columns(['citizen_id', 'client_id']).doUpdateSet({
            consent_id: row.id,
            terms_version: service.terms?.version ?? null,
            fields_offered: offered,
            fields_shared: input.fieldsShared,
            granted_at: row.created_at,
            write_back: writeBack,
          }),
        )
        .execute();
      return row.id;
    },

    /**
     * Records a revocation, and in the same transaction removes the service's grants and tokens for
     * the citizen: its refresh tokens stop working at once and the next access asks again.
     */
    async revoke(trx: Db, input: { citizenId: string; clientId: string; context: ConsentContext }): Promise<boolean> {
      const live = await current(input.citizenId, input.clientId, trx);
      if (!live) return false;
      // The event first: it locks the citizen row before the consent rows, as grant does.
      await recordEvent(trx, { type: 'consent.revoked', citizenId: input.citizenId, clientId: input.clientId });
      await trx
        .insertInto('consents')
        .values({
          citizen_id: input.citizenId,
          client_id: input.clientId,
          action: 'revoked',
          terms_version: live.termsVersion,
          terms_sha256: null,
          fields_offered: live.fieldsOffered,
          fields_shared: [],
          ip: input.context.ip,
          user_agent: input.context.userAgent?.slice(0, 500) ?? null,
          acr: input.context.acr,
          amr: input.context.amr,
        })
        .execute();
      await trx
        .deleteFrom('consent_current')
        .where('citizen_id', '=', input.citizenId)
        .where('client_id', '=', input.clientId)
        .execute();
      await provider.revokeGrants(trx, input.citizenId, input.clientId);
      return true;
    },

    /**
     * Withdraws the service's write access and keeps the rest of the consent: a new record says so,
     * and the service's grants and tokens end (the ones carrying the write scope with them); its
     * next sign-in gets a grant without it, or asks again if the service still wants to write.
     */
    async revokeWrite(trx: Db, input: { citizenId: string; clientId: string; context: ConsentContext }): Promise<boolean> {
      const live = await current(input.citizenId, input.clientId, trx);
      if (!live?.writeBack) return false;
      const terms = await trx
        .selectFrom('consents')
        .select('terms_sha256')
        .where('id', '=', live.consentId)
        .executeTakeFirst();
      const row = await trx
        .insertInto('consents')
        .values({
          citizen_id: input.citizenId,
          client_id: input.clientId,
          action: 'granted',
          terms_version: live.termsVersion,
          terms_sha256: terms?.terms_sha256 ?? null,
          fields_offered: live.fieldsOffered,
          fields_shared: live.fieldsShared,
          ip: input.context.ip,
          user_agent: input.context.userAgent?.slice(0, 500) ?? null,
          acr: input.context.acr,
          amr: input.context.amr,
          write_back: false,
        })
        .returning(['id'])
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('consent_current')
        .set({ consent_id: row.id, write_back: false })
        .where('citizen_id', '=', input.citizenId)
        .where('client_id', '=', input.clientId)
        .execute();
      await provider.revokeGrants(trx, input.citizenId, input.clientId);
      return true;
    },

    /** The services the citizen consented to, with what each receives. */
    async live(citizenId: string) {
      return db
        .selectFrom('consent_current as c')
        .innerJoin('services as s', 's.client_id', 'c.client_id')
        .select(['c.client_id', 's.name', 's.description', 's.client_type', 'c.fields_shared', 'c.granted_at', 'c.terms_version', 'c.write_back'])
        .where('c.citizen_id', '=', citizenId)
        .where('s.first_party', '=', false)
        .orderBy('c.granted_at', 'desc')
        .execute();
    },

    /** Every record for the citizen, oldest first: the export LGPD art. 8 §2 and 18 VII ask for. */
    async history(citizenId: string): Promise<ConsentRecord[]> {
      const rows = await db
        .selectFrom('consents as c')
        .leftJoin('services as s', 's.client_id', 'c.client_id')
        .select([
          'c.id',
          'c.client_id',
          's.name',
          'c.action',
          'c.terms_version',
          'c.terms_sha256',
          'c.fields_offered',
          'c.fields_shared',
          'c.ip',
          'c.user_agent',
          'c.acr',
          'c.amr',
          'c.write_back',
          'c.created_at',
        ])
        .where('c.citizen_id', '=', citizenId)
        .orderBy('c.id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        clientId: r.client_id,
        serviceName: r.name,
        action: r.action,
        termsVersion: r.terms_version,
        termsSha256: r.terms_sha256,
        fieldsOffered: r.fields_offered,
        fieldsShared: r.fields_shared,
        ip: r.ip,
        userAgent: r.user_agent,
        acr: r.acr,
        amr: r.amr,
        writeBack: r.write_back,
        createdAt: r.created_at,
      }));
    },
  };
}

export type ConsentStore = ReturnType<typeof createConsentStore>;

/**
 * The live consents go with the account (the services are told by the purge event). The records
 * stay: they are the evidence of what the citizen accepted, and the table refuses changes.
 */
export const consentEraser: Eraser = {
  name: 'consent',
  erases: { consent_current: 'deleted' },
  retains: {
    consents:
      'evidence of each consent and revocation, kept for the city to prove the lawful basis of what it shared (LGPD art. 8 §2, art. 16 I); append-only by trigger',
  },
  async erase(trx, citizenId) {
    await trx.deleteFrom('consent_current').where('citizen_id', '=', citizenId).execute();
  },
};
