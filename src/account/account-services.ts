import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { AppError } from '../platform/errors.ts';
import { hashClientSecret, type ServiceStore } from '../services/service-store.ts';

/** The citizen's own pages sign in through the provider like any service, as a first-party one. */
export const ACCOUNT_CLIENT_ID = 'cidadela-conta';

export async function ensureAccountService(deps: { db: Db; services: ServiceStore; publicUrl: string }) {
  const settings = {
    name: 'Cidadela — minha conta',
    description: 'As páginas da sua conta Cidadela.',
    redirectUris: [`${deps.publicUrl}/conta/callback`],
    postLogoutRedirectUris: [`${deps.publicUrl}/conta/saiu`],
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
    // Nobody uses this secret: the account pages read the provider's session, not tokens.
    await deps.db
      .updateTable('services')
      .set({ client_secret_hash: hashClientSecret(randomBytes(32).toString('base64url')) })
      .where('client_id', '=', ACCOUNT_CLIENT_ID)
      .execute();
  }
}
