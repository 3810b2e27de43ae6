import { createCredentialStore } from '../../identity/credential-store.ts';
import type { SignInMethod } from '../method.ts';

/** Something the citizen knows (RFC 8176 `pwd`): argon2id-hashed, throttled per account and address. */
export const passwordMethod: SignInMethod = {
  id: 'password',
  factor: 'knowledge',
  amr: ['pwd'],
  // A password reaches prata only on an account whose identity a trusted source confirmed (the
  // account's level caps it, assurance.ts); ouro needs the certificate itself (decision 23).
  assurance: 'prata',
  has: async (citizen, db) => Boolean(await createCredentialStore(db).get(citizen.id, 'password', db)),
};
