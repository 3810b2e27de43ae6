import type { ConsentContext, ConsentNeed, ConsentStore } from '../../consent/consent-store.ts';
import type { Db } from '../../db/database.ts';
import { accountKind, type Citizen, type CitizenStore, lockCitizen, profileValues, writeProfile } from '../../identity/citizen-store.ts';
import { type FieldValue, fieldDef, formValues, isTyped, parseField } from '../../identity/field-catalog.ts';
import { AppError } from '../../platform/errors.ts';
import { contractFor, type Service, type ServiceStore } from '../../services/service-store.ts';

export type ConsentScreen = {
  service: Service;
  citizen: Citizen;
  values: Record<string, FieldValue>;
  need: ConsentNeed;
  /** Required fields the citizen has no value for: asked on the screen. */
  missing: string[];
  /** The form as it should be shown: stored values of missing fields are empty, typed ones kept. */
  form: Record<string, string>;
  /** Optional fields ticked to be shared. */
  shared: Set<string>;
};

export type ConsentOutcome =
  | { ok: true; fieldsShared: string[] }
  | { ok: false; screen: ConsentScreen; errors: Record<string, string> };

/**
 * The consent screen of one service, generated from its data contract: what it receives, why, the
 * citizen's current values, and the required fields still missing. Accepting stores the typed data
 * and the consent record in one transaction.
 */
export function createConsentFlow(deps: { db: Db; citizens: CitizenStore; services: ServiceStore; consents: ConsentStore }) {
  const { db, citizens, services, consents } = deps;

  async function load(citizenId: string, clientId: string) {
    const [citizen, service] = await Promise.all([citizens.findById(citizenId), services.find(clientId)]);
    if (!citizen || !service) throw new AppError('interaction.expired', 400);
    // The screen, the consent record and the claims follow the contract as it applies to this
    // kind of account: a foreigner is never asked for a CPF.
    return { citizen, service: { ...service, fields: contractFor(service.fields, accountKind(citizen)) } };
  }

  function build(citizen: Citizen, service: Service, need: ConsentNeed, form: Record<string, string>, shared?: Set<string>): ConsentScreen {
    const values = profileValues(citizen);
    // A derived field (level, companies) the account has no value for is not asked: nobody types it.
    const missing = service.fields.filter((f) => f.required && isTyped(f.key) && values[f.key] === undefined).map((f) => f.key);
    // Optional fields start ticked when the citizen shared them before or has never been asked.
    const previously = need.current;
    const ticked =
      shared ??
      new Set(
        service.fields
          .filter((f) => !f.required && values[f.key] !== undefined)
          .filter((f) => !previously || previously.fieldsShared.includes(f.key) || !previously.fieldsOffered.includes(f.key))
          .map((f) => f.key),
      );
    return { service, citizen, values, need, missing, form, shared: ticked };
  }

  return {
    async screen(citizenId: string, clientId: string): Promise<ConsentScreen> {
      const { citizen, service } = await load(citizenId, clientId);
      return build(citizen, service, await consents.need(citizenId, service), {});
    },

    async accept(
      citizenId: string,
      clientId: string,
      body: Record<string, unknown>,
      context: ConsentContext,
      /** The request asked for write access and the screen said so: the consent includes it. */
      writeBack = false,
    ): Promise<ConsentOutcome> {
      const { citizen, service } = await load(citizenId, clientId);
      const need = await consents.need(citizenId, service);
      const values = profileValues(citizen);
      const typed: Record<string, string> = {};
      for (const [k, v] of Object.entries(body)) if (k.startsWith('f_') && typeof v === 'string') typed[k] = v.slice(0, 300);
      const shared = new Set(
        service.fields.filter((f) => !f.required && body[`share_${f.key}`] === 'yes' && values[f.key] !== undefined).map((f) => f.key),
      );
      const errors: Record<string, string> = {};
      const provided: Record<string, FieldValue> = {};
      for (const f of service.fields) {
        if (!f.required || !isTyped(f.key) || values[f.key] !== undefined) continue;
        const def = fieldDef(f.key)!;
        const parsed = parseField(def, body);
        if (!parsed.ok) Object.assign(errors, parsed.errors);
        else if (parsed.value === null) {
          const first = def.kind === 'address' ? 'f_address_postal_code' : `f_${def.key}`;
          errors[first] = def.kind === 'address' ? 'field.address.required' : `field.${def.key}.required`;
        } else provided[f.key] = parsed.value;
      }
      if (Object.keys(errors).length > 0) {
        return { ok: false, errors, screen: build(citizen, service, need, typed, shared) };
      }
      const fieldsShared = service.fields.filter((f) => f.required || shared.has(f.key)).map((f) => f.key);
      await db.transaction().execute(async (trx) => {
        // The fields typed here are written over the citizen as stored now (locked), not the copy
        // the screen was built from: a write-back committed meanwhile is kept.
        const current = await lockCitizen(trx, citizenId);
        if (!current) throw new AppError('interaction.expired', 400);
        const stillMissing = Object.fromEntries(Object.entries(provided).filter(([key]) => profileValues(current)[key] === undefined));
        if (Object.keys(stillMissing).length) await writeProfile(trx, current, stillMissing);
        await consents.grant(trx, { citizenId, service, fieldsShared, context, writeBack });
      });
      return { ok: true, fieldsShared };
    },

    formValuesOf: (key: string, value: FieldValue | undefined) => (value === undefined ? {} : formValues(fieldDef(key)!, value)),
  };
}

export type ConsentFlow = ReturnType<typeof createConsentFlow>;
