import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { AppError } from '../platform/errors.ts';
import { hashClientSecret, type ServiceStore } from '../services/service-store.ts';

/** The citizen's own pages sign in through the provider like any service, as a first-party one. */
export const ACCOUNT_CLIENT_ID = 'cidadela-conta';

export async function ensureAccountService(deps: { db: Db; services: ServiceStore; publicUrl: string }) {
  await ensureFirstPartyService(deps, {
    clientId: ACCOUNT_CLIENT_ID,
    name: 'Cidadela — minha conta',
    description: 'As páginas da sua conta Cidadela.',
    callbackPath: '/conta/callback',
    signedOutPath: '/conta/saiu',
  });
}

/**
 * A page family of Cidadela itself that signs in through the provider (the account pages, the
 * operators' console): a first-party service, created on start and kept in step with PUBLIC_URL.
 */
export async function ensureFirstPartyService(
  deps: { db: Db; services: ServiceStore; publicUrl: string },
  own: { clientId: string; name: string; description: string; callbackPath: string; signedOutPath: string },
) {
  const ACCOUNT_CLIENT_ID = own.clientId;
  const settings = {
    name: own.name,
    description: own.description,
    redirectUris: [`${deps.publicUrl}${own.callbackPath}`],
    postLogoutRedirectUris: [`${deps.publicUrl}${own.signedOutPath}`],
    backchannelLogoutUri: null,
    tokenEndpointAuthMethod: 'client_secret_basic' as const,
  };
  if (await deps.services.find(ACCOUNT_CLIENT_ID)) {
    await deps.services.update(ACCOUNT_CLIENT_ID, settings);
  } else {
    try {
      await deps.services.add({ clientId: ACCOUNT_CLIENT_ID, firstParty: true, ...settings });
    } catch (error) {
      // Copies starting at once on a new database race to add it: the one that lost has nothing to do.
      if (error instanceof AppError && error.code === 'service.exists') return;
      throw error;
    }
    // Nobody uses this secret: these pages read the provider's session, not tokens.
    await deps.db
      .updateTable('services')
      .set({ client_secret_hash: hashClientSecret(randomBytes(32).toString('base64url')) })
      .where('client_id', '=', ACCOUNT_CLIENT_ID)
      .execute();
  }
}
