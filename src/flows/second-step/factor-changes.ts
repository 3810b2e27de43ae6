import type { Db } from '../../db/database.ts';
import { consentedServices, recordEvent } from '../../events/outbox.ts';
import { type Citizen, lockCitizen } from '../../identity/citizen-store.ts';
import { type Credential, createCredentialStore } from '../../identity/credential-store.ts';
import { enqueueMail, enqueueSms } from '../../messaging/message-queue.ts';
import { renderMail, renderSms } from '../../messaging/templates.ts';
import type { Translate } from '../../platform/i18n.ts';
import { provenAddresses } from '../recovery/recovery-reset.ts';

/** The kinds of second factor a citizen registers (the certificate needs no registration). */
export type FactorKind = 'totp' | 'passkey';
export const FACTOR_KINDS: readonly FactorKind[] = ['totp', 'passkey'];

export type FactorChangeDeps = {
  /** The citizen's own language for what is sent to them. */
  translatorFor(citizen: Citizen): { t: Translate; locale: string };
};

/** The citizen's registered second factors, oldest first. */
export async function secondFactorsOf(trx: Db, citizenId: string): Promise<Credential[]> {
  const all = await createCredentialStore(trx).list(citizenId, undefined, trx);
  return all.filter((c) => (FACTOR_KINDS as readonly string[]).includes(c.type));
}

/** Names of the services this citizen consented to that require a second step. */
export async function servicesRequiringSecondStep(trx: Db, citizenId: string): Promise<string[]> {
  const consented = await consentedServices(trx, citizenId);
  if (consented.length === 0) return [];
  const rows = await trx
    .selectFrom('services')
    .select('name')
    .where('client_id', 'in', consented)
    .where('require_second_factor', '=', true)
    .orderBy('name')
    .execute();
  return rows.map((r) => r.name);
}

function caepType(credential: Pick<Credential, 'type' | 'data'>) {
  if (credential.type === 'totp') return 'app' as const;
  return credential.data.attachment === 'cross-platform' ? ('fido2-roaming' as const) : ('fido2-platform' as const);
}

/**
 * What a factor added or removed tells: a notice in the citizen's language to every proven address
 * (an attacker who added one is seen by the owner), and CAEP `credential-change` to the consented
 * services. In the change's transaction.
 */
export async function announceFactorChange(
  trx: Db,
  deps: FactorChangeDeps,
  citizen: Citizen,
  credential: Pick<Credential, 'type' | 'data'>,
  change: 'added' | 'removed',
): Promise<void> {
  const { t, locale } = deps.translatorFor(citizen);
  const when = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'America/Sao_Paulo' }).format(new Date());
  const name = typeof credential.data.name === 'string' ? credential.data.name : '';
  const params = { when, factor: credential.type === 'totp' ? t('factor.kind.totp') : t('factor.kind.passkey_named', { name }) };
  const template = change === 'added' ? 'factor_added' : 'factor_removed';
  const { emails, phones } = await provenAddresses(trx, citizen);
  for (const to of emails) await enqueueMail(trx, renderMail(t, template, to, params));
  for (const to of phones) await enqueueSms(trx, renderSms(t, template, to, params));
  await recordEvent(trx, {
    type: 'credential.changed',
    citizenId: citizen.id,
    audience: await consentedServices(trx, citizen.id),
    credentialType: caepType(credential),
    changeType: change === 'added' ? 'create' : 'delete',
    reason: 'change',
  });
}

export type RemoveOutcome = { ok: true } | { ok: false; code: 'factor.not_found' } | { ok: false; code: 'factor.last_required'; services: string[] };

/**
 * Removes one of the citizen's second factors, unless it is the last one and a service they use
 * requires a second step (they would be locked out of it): then nothing changes and the page says
 * which services. Over a locked read of the citizen, so two removals cannot both pass the check.
 */
export async function removeFactor(trx: Db, deps: FactorChangeDeps, citizenId: string, credentialId: string): Promise<RemoveOutcome> {
  const citizen = await lockCitizen(trx, citizenId);
  if (!citizen) return { ok: false, code: 'factor.not_found' };
  const factors = await secondFactorsOf(trx, citizenId);
  const target = factors.find((f) => f.id === credentialId);
  if (!target) return { ok: false, code: 'factor.not_found' };
  if (factors.length === 1) {
    const services = await servicesRequiringSecondStep(trx, citizenId);
    if (services.length) return { ok: false, code: 'factor.last_required', services };
  }
  await trx.deleteFrom('credentials').where('id', '=', target.id).where('citizen_id', '=', citizenId).execute();
  await announceFactorChange(trx, deps, citizen, target, 'removed');
  return { ok: true };
}
