import { consentEraser } from './consent/consent-store.ts';
import type { Db } from './db/database.ts';
import { eventsEraser } from './events/event-erasure.ts';
import { createAccountLifecycle } from './identity/account-lifecycle.ts';
import { deletionRequestsEraser } from './identity/deletion-requests.ts';
import { profileEraser } from './identity/citizen-store.ts';
import { cpfClaimsEraser } from './identity/cpf-claims.ts';
import { credentialsEraser } from './identity/credential-store.ts';
import { identifiersEraser } from './identity/identifiers.ts';
import { trustLevelsEraser } from './identity/trust-levels.ts';
import { messagesEraser } from './messaging/message-queue.ts';
import { codesEraser } from './methods/code/code-store.ts';
import { loginThrottleEraser } from './methods/password/login-throttle.ts';
import { verificationsEraser } from './methods/verifications.ts';
import { securityEventsEraser } from './identity/security-events.ts';
import { sessionActivityEraser } from './identity/session-activity.ts';
import { webauthnChallengesEraser } from './methods/passkey/passkey-store.ts';
import { recoveryEraser } from './flows/recovery/recovery-store.ts';
import { createProviderState, type ProviderState, providerStateEraser } from './oidc/provider-state.ts';
import type { Eraser } from './platform/erasure.ts';
import { rateLimitsEraser } from './platform/rate-limit.ts';
import { auditEraser } from './console/audit-log.ts';
import { operatorsEraser } from './console/operator-store.ts';
import { usageEraser } from './console/usage.ts';
import { exportPersonalData } from './account/data-export.ts';

/**
 * Every module that keeps personal data, by its eraser: the one list an account's deletion runs,
 * in this order. A module that starts keeping personal data adds one line here;
 * test/account/erasure.test.ts fails while a table with a citizen's id has no eraser.
 */
export function personalDataErasers(provider: Pick<ProviderState, 'endAccountSessions'>): Eraser[] {
  return [
    providerStateEraser(provider),
    consentEraser,
    eventsEraser,
    codesEraser,
    verificationsEraser,
    webauthnChallengesEraser,
    recoveryEraser,
    securityEventsEraser,
    sessionActivityEraser,
    loginThrottleEraser,
    rateLimitsEraser,
    operatorsEraser,
    auditEraser,
    usageEraser,
    // Reads the citizen's addresses: before the identifiers and the profile are erased.
    messagesEraser,
    credentialsEraser,
    trustLevelsEraser,
    deletionRequestsEraser,
    cpfClaimsEraser,
    identifiersEraser,
    profileEraser,
  ];
}

/** The operator's account actions (disable, enable, delete) wired to the provider's storage and every eraser. */
export function createAccountActions(db: Db, provider: ProviderState = createProviderState()) {
  return createAccountLifecycle({ db, provider, erasers: personalDataErasers(provider) });
}

/**
 * Everything kept about the citizen, read from the same list of modules a deletion runs (LGPD art.
 * 18 II): a table that the deletion knows of and the export does not is an error, not a gap.
 */
export function personalDataExport(db: Db, citizenId: string) {
  return exportPersonalData(db, personalDataErasers(createProviderState()), citizenId);
}
