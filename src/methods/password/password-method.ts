import { createCredentialStore } from '../../identity/credential-store.ts';
import type { SignInMethod } from '../method.ts';

/** Something the citizen knows (RFC 8176 `pwd`): argon2id-hashed, throttled per account and address. */
export const passwordMethod: SignInMethod = {
  id: 'password',
  factor: 'knowledge',
  amr: ['pwd'],
  assurance: 'bronze',
  has: async (citizen, db) => Boolean(await createCredentialStore(db).get(citizen.id, 'password', db)),
};
