import type { Db } from '../../db/database.ts';
import { consentedServices, recordEvent } from '../../events/outbox.ts';
import type { AccountSessions, OwedLogout } from '../../identity/account-lifecycle.ts';
import { type Citizen, lockCitizen } from '../../identity/citizen-store.ts';
import { confirmEmail } from '../../identity/contact-proofs.ts';
import type { CredentialStore } from '../../identity/credential-store.ts';
import { listIdentifiers } from '../../identity/identifiers.ts';
import { smsAllowed } from '../../identity/phone.ts';
import { createTrustLevels } from '../../identity/trust-levels.ts';
import { enqueueMail, enqueueSms } from '../../messaging/message-queue.ts';
import { renderMail, renderSms } from '../../messaging/templates.ts';
import type { Translate } from '../../platform/i18n.ts';
import { describeBrowser } from '../../platform/user-agent.ts';
import type { Secrets } from '../../security/secrets.ts';
import { randomId } from '../../security/secrets.ts';
import type { RecoveryStore } from './recovery-store.ts';
import type { SecurityEvents } from '../../identity/security-events.ts';

/** The reason in the trust-level history when a secret-question recovery lowers the level. */
export const RECOVERED_BY_QUESTION = 'secret_question_recovery';

export type ResetDeps = {
  credentials: CredentialStore;
  provider: AccountSessions;
  recoveries: RecoveryStore;
  securityEvents: SecurityEvents;
  secrets: Secrets;
  publicUrl: string;
  /** The citizen's own language for what is sent to them (not the page's: they may be someone else). */
  translatorFor(citizen: Citizen): { t: Translate; locale: string };
  /** SMS_COUNTRIES: an SMS only to a number of an enabled country. */
  smsCountries: readonly string[];
  /** After the commit: the back-channel logouts owed to the services of the sessions ended. */
  backchannelLogout(accountId: string, logouts: readonly OwedLogout[]): Promise<unknown>;
};

/** Every address of the account that is proven: the notice goes to each. */
export async function provenAddresses(trx: Db, citizen: Citizen) {
  const ids = await listIdentifiers(trx, citizen.id);
  const emails = new Set(ids.filter((i) => i.kind === 'email' && i.verified).map((i) => i.value));
  const phones = new Set(ids.filter((i) => i.kind === 'phone' && i.verified).map((i) => i.value));
  if (citizen.email && citizen.emailVerified) emails.add(citizen.email);
  if (citizen.phoneNumber && citizen.phoneNumberVerified) phones.add(citizen.phoneNumber);
  return { emails: [...emails], phones: [...phones] };
}

/**
 * What a proven recovery changes, in one transaction: the new password; every session, grant and
 * refresh token of the account ended (through the provider's storage port); a notice in the
 * citizen's language to every proven address, with a "this was not me" link; the CAEP
 * credential-change event to the consented services. A primary e-mail proven by the recovery
 * code is confirmed on the way (an unconfirmed registration's owner gets it back this way).
 */
export async function resetPassword(
  trx: Db,
  deps: ResetDeps,
  input: {
    attemptId: string;
    citizenId: string;
    passwordHash: string;
    provenEmail: string | null;
    /** Recovered with the secret question: the account drops to bronze (decision 22). */
    dropToBronze?: boolean;
    userAgent: string | null;
    ip: string;
    /** The recovery strategy that proved it (a method id). */
    strategy: string | null;
  },
): Promise<{ done: true; logouts: OwedLogout[] } | { done: false }> {
  const citizen = await lockCitizen(trx, input.citizenId);
  if (!citizen || citizen.status !== 'active') return { done: false };
  if (
    input.provenEmail &&
    citizen.email &&
    !citizen.emailVerified &&
    input.provenEmail.toLowerCase() === citizen.email.toLowerCase()
  ) {
    await confirmEmail(trx, citizen.id, citizen.email);
    citizen.emailVerified = true;
  }
  await deps.credentials.set(citizen.id, 'password', { secret: input.passwordHash }, trx);
  if (input.dropToBronze)
    await createTrustLevels(trx).setLevel(trx, citizen.id, 'bronze', RECOVERED_BY_QUESTION);
  const logouts = await deps.provider.endAccountSessions(trx, citizen.id);

  const seen = { ip: input.ip, userAgent: input.userAgent, method: input.strategy };
  await deps.securityEvents.record({ citizenId: citizen.id, kind: 'recovery', result: 'reset', ...seen }, trx);
  await deps.securityEvents.record({ citizenId: citizen.id, kind: 'password_changed', detail: { via: 'recovery' }, ...seen }, trx);

  const token = randomId(24);
  await deps.recoveries.update(
    input.attemptId,
    { state: 'reset', notMeDigest: deps.secrets.digest('recovery-not-me', token) },
    trx,
  );
  const { t, locale } = deps.translatorFor(citizen);
  const { browser, system } = describeBrowser(input.userAgent);
  const when = new Intl.DateTimeFormat(locale, {
    dateStyle: 'long',
    timeStyle: 'short',
    timeZone: 'America/Sao_Paulo',
  }).format(new Date());
  const link = `${deps.publicUrl}/recuperar/nao-fui-eu#t=${token}`;
  const params = {
    when,
    browser: browser === '?' ? t('recovery.unknown_browser') : browser,
    system: system === '?' ? '—' : system,
    link,
  };
  const { emails, phones } = await provenAddresses(trx, citizen);
  for (const to of emails) await enqueueMail(trx, renderMail(t, 'recovery_notice', to, params));
  for (const to of phones.filter((p) => smsAllowed(p, deps.smsCountries))) await enqueueSms(trx, renderSms(t, 'recovery_notice', to, params));

  await recordEvent(trx, {
    type: 'credential.changed',
    citizenId: citizen.id,
    audience: await consentedServices(trx, citizen.id),
    credentialType: 'password',
    changeType: 'update',
    reason: 'recovery',
  });
  return { done: true, logouts };
}

/**
 * "This was not me": the reset is treated as an attacker's. Every session ends and the password
 * stops working (removed: no password signs in) until the next recovery; the token is spent and
 * the lock recorded on the attempt; the services hear of it.
 */
export async function lockAfterNotMe(
  trx: Db,
  deps: Pick<ResetDeps, 'credentials' | 'provider' | 'recoveries' | 'secrets' | 'securityEvents'>,
  token: string,
  seen: { ip: string; userAgent: string | null },

): Promise<{ citizenId: string; logouts: OwedLogout[] } | undefined> {
  const attempt = await deps.recoveries.byNotMe(deps.secrets.digest('recovery-not-me', token), trx);
  if (!attempt?.citizen_id) return undefined;
  await deps.credentials.remove(attempt.citizen_id, 'password', trx);
  const logouts = await deps.provider.endAccountSessions(trx, attempt.citizen_id);
  await deps.recoveries.markNotMe(attempt.id, trx);
  await deps.securityEvents.record({ citizenId: attempt.citizen_id, kind: 'recovery', result: 'not_me', ...seen }, trx);
  await recordEvent(trx, {
    type: 'credential.changed',
    citizenId: attempt.citizen_id,
    audience: await consentedServices(trx, attempt.citizen_id),
    credentialType: 'password',
    changeType: 'revoke',
    reason: 'not_me',
  });
  return { citizenId: attempt.citizen_id, logouts };
}
