import { consentEraser } from './consent/consent-store.ts';
import type { Db } from './db/database.ts';
import { eventsEraser } from './events/event-erasure.ts';
import { createAccountLifecycle } from './identity/account-lifecycle.ts';
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
    // Reads the citizen's addresses: before the identifiers and the profile are erased.
    messagesEraser,
    credentialsEraser,
    trustLevelsEraser,
    cpfClaimsEraser,
    identifiersEraser,
    profileEraser,
  ];
}

/** The operator's account actions (disable, enable, delete) wired to the provider's storage and every eraser. */
export function createAccountActions(db: Db, provider: ProviderState = createProviderState()) {
  return createAccountLifecycle({ db, provider, erasers: personalDataErasers(provider) });
}
