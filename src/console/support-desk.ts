import { sql } from 'kysely';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import type { AccountLifecycle, LifecycleResult } from '../identity/account-lifecycle.ts';
import type { Citizen, CitizenStore } from '../identity/citizen-store.ts';
import { normalizeCpf } from '../identity/cpf.ts';
import { type IdentifierKey, listIdentifiers, matchesAny } from '../identity/identifiers.ts';
import { normalizePhone } from '../identity/phone.ts';
import { createTrustLevels, levelRank } from '../identity/trust-levels.ts';
import { listAudit, operatorActor, recordAudit } from './audit-log.ts';
import { createSecurityEvents } from '../identity/security-events.ts';

/** The trust framework recorded for values an attendant checked against a document at a counter. */
export const IN_PERSON_FRAMEWORK = 'cidadela_presencial';
export const DOCUMENT_TYPES = ['rg', 'cin', 'cnh', 'passport', 'crnm'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];
/** Fields a document shown at the counter confirms, when the account has them. */
const DOCUMENT_FIELDS = ['name', 'cpf', 'birthdate'] as const;
/** How long after a search the attendant may keep working on the account it found. */
const SEARCH_VALID_SECONDS = 3600;

export type SearchBy = 'cpf' | 'email' | 'phone';

/** An exact identifier, or why it is not one (a partial CPF, an e-mail without domain, ...). */
export function exactIdentifier(by: unknown, value: unknown): { ok: true; key: IdentifierKey } | { ok: false; error: string } {
  const typed = typeof value === 'string' ? value.trim() : '';
  if (typed.length === 0 || typed.length > 254) return { ok: false, error: 'console.search.value_required' };
  if (by === 'cpf') {
    const cpf = normalizeCpf(typed);
    return cpf ? { ok: true, key: { kind: 'cpf', value: cpf } } : { ok: false, error: 'console.search.cpf_exact' };
  }
  if (by === 'email') {
    return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(typed) ? { ok: true, key: { kind: 'email', value: typed } } : { ok: false, error: 'console.search.email_exact' };
  }
  if (by === 'phone') {
    const phone = typed.startsWith('+') ? normalizePhone(typed, null) : null;
    return phone ? { ok: true, key: { kind: 'phone', value: phone } } : { ok: false, error: 'console.search.phone_exact' };
  }
  return { ok: false, error: 'console.search.by_required' };
}

export type InPerson = { documentType: DocumentType; documentNumber: string; counter: string };

/**
 * The attendant's work on one account at a time: an exact search (audited with its reason, found
 * or not), the account's summary, and what they may change, each change audited in its own
 * transaction. Never a list of accounts.
 */
export function createSupportDesk(deps: { db: Db; citizens: CitizenStore; consents: ConsentStore; lifecycle: AccountLifecycle }) {
  const { db } = deps;
  const trust = createTrustLevels(db);

  return {
    async search(operatorId: string, key: IdentifierKey, reason: string): Promise<Citizen | undefined> {
      // Equality on the one kind asked for, never a pattern (identifiers.ts, matchesAny).
      const row = await db.selectFrom('identifiers').select('citizen_id').where(matchesAny([key])).executeTakeFirst();
      const found = row ? await deps.citizens.findById(row.citizen_id) : undefined;
      const citizen = found && found.status !== 'deleted' ? found : undefined;
      await recordAudit(db, {
        actor: operatorActor(operatorId),
        kind: 'support.search',
        citizenId: citizen?.id ?? null,
        reason,
        detail: { by: key.kind, found: Boolean(citizen) },
      });
      return citizen;
    },

    /** Whether this operator searched for this account recently (ids are not entry points on their own). */
    async searchedRecently(operatorId: string, citizenId: string): Promise<boolean> {
      const row = await db
        .selectFrom('audit_log')
        .select('id')
        .where('operator_id', '=', operatorId)
        .where('citizen_id', '=', citizenId)
        .where('kind', '=', 'support.search')
        .where('at', '>', sql<Date>`now() - make_interval(secs => ${SEARCH_VALID_SECONDS})`)
        .limit(1)
        .executeTakeFirst();
      return Boolean(row);
    },

    async summary(citizenId: string) {
      const citizen = await deps.citizens.findById(citizenId);
      if (!citizen || citizen.status === 'deleted') return undefined;
      const [identifiers, services, levels, verified, actions, security] = await Promise.all([
        listIdentifiers(db, citizenId),
        deps.consents.live(citizenId),
        trust.history(citizenId),
        trust.verifiedFields(citizenId),
        listAudit(db, { citizenId, limit: 20 }),
        // The citizen's own security record (sign-ins, recoveries): what they did, beside what operators did.
        createSecurityEvents(db).recentFor(citizenId, { limit: 15 }),
      ]);
      return { citizen, identifiers, services, levels, verified, actions, security };
    },

    async setStatus(operatorId: string, citizenId: string, to: 'disabled' | 'active', reason: string): Promise<LifecycleResult> {
      const kind = to === 'disabled' ? 'account.disabled' : 'account.enabled';
      const also = (trx: Db) => recordAudit(trx, { actor: operatorActor(operatorId), kind, citizenId, reason });
      return to === 'disabled' ? deps.lifecycle.disable(citizenId, also) : deps.lifecycle.enable(citizenId, also);
    },

    /** The document seen at the counter: the values it confirms get that provenance; the account rises to prata. */
    async verifyInPerson(operatorId: string, citizenId: string, input: InPerson): Promise<'done' | 'not_found'> {
      return db.transaction().execute(async (trx) => {
        const citizen = await deps.citizens.findById(citizenId, trx);
        if (!citizen || citizen.status !== 'active') return 'not_found';
        const levels = createTrustLevels(trx);
        // A value a certificate already confirmed keeps that stronger provenance.
        const elsewhere = new Set((await levels.verifiedFields(citizenId, trx)).filter((v) => v.trustFramework !== IN_PERSON_FRAMEWORK).map((v) => v.field));
        const fields = DOCUMENT_FIELDS.filter((f) => !elsewhere.has(f) && (f === 'cpf' ? citizen.cpf : f === 'name' ? citizen.name : citizen.birthdate));
        await levels.verifyFields(trx, citizenId, fields, IN_PERSON_FRAMEWORK, {
          issuer: input.counter,
          serial: input.documentNumber,
          kind: input.documentType,
        });
        const before = await levels.levelOf(citizenId, trx);
        if (levelRank(before) < levelRank('prata')) {
          await levels.setLevel(trx, citizenId, 'prata', 'in_person', { documentType: input.documentType, counter: input.counter, operator: operatorId });
        }
        await recordAudit(trx, {
          actor: operatorActor(operatorId),
          kind: 'support.in_person_verified',
          citizenId,
          detail: { documentType: input.documentType, counter: input.counter, fields, from: before, to: levelRank(before) < levelRank('prata') ? 'prata' : before },
        });
        return 'done';
      });
    },

    /** Takes back an in-person confirmation: its provenance goes, a prata account returns to bronze. */
    async lowerInPerson(operatorId: string, citizenId: string, reason: string): Promise<'done' | 'not_found' | 'not_prata'> {
      return db.transaction().execute(async (trx) => {
        const citizen = await deps.citizens.findById(citizenId, trx);
        if (!citizen || citizen.status === 'deleted') return 'not_found';
        const levels = createTrustLevels(trx);
        if ((await levels.levelOf(citizenId, trx)) !== 'prata') return 'not_prata';
        await trx.deleteFrom('field_verifications').where('citizen_id', '=', citizenId).where('trust_framework', '=', IN_PERSON_FRAMEWORK).execute();
        await levels.setLevel(trx, citizenId, 'bronze', 'in_person_withdrawn', { operator: operatorId });
        await recordAudit(trx, { actor: operatorActor(operatorId), kind: 'support.level_lowered', citizenId, reason, detail: { from: 'prata', to: 'bronze' } });
        return 'done';
      });
    },
  };
}

export type SupportDesk = ReturnType<typeof createSupportDesk>;
