import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { Db } from '../../db/database.ts';
import type { Citizen } from '../../identity/citizen-store.ts';
import { passkeyAmr } from './passkey.ts';
import type { PasskeyStore, StoredPasskey } from './passkey-store.ts';

export type PasskeyError = 'passkey.invalid' | 'passkey.unknown' | 'passkey.replayed' | 'passkey.no_verification' | 'passkey.name' | 'passkey.exists';

const NAME_MAX = 60;

/** What the browser sends, checked for shape only: the library checks the rest. */
function asResponse<T>(value: unknown): T | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || typeof v.rawId !== 'string' || v.type !== 'public-key' || !v.response || typeof v.response !== 'object') return undefined;
  return value as T;
}

/** The challenge a response answers, read from its clientDataJSON (then spent, if it was ours). */
function challengeOf(response: { response: { clientDataJSON: string } }): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The two WebAuthn ceremonies with @simplewebauthn/server, bound to this site: the relying party id
 * is PUBLIC_URL's host and the only origin accepted is PUBLIC_URL's (never a request header). User
 * verification is required both times: that is what makes a passkey two factors.
 */
export function createPasskeyCeremonies(deps: { publicUrl: string; store: PasskeyStore }) {
  const origin = new URL(deps.publicUrl).origin;
  const rpID = new URL(deps.publicUrl).hostname;
  const { store } = deps;

  return {
    async registrationOptions(citizen: Citizen, trx?: Db) {
      const existing = await store.list(citizen.id, trx);
      const options = await generateRegistrationOptions({
        rpName: 'Cidadela',
        rpID,
        userName: citizen.email ?? citizen.phoneNumber ?? citizen.name,
        userDisplayName: citizen.socialName ?? citizen.name,
        userID: Buffer.from(citizen.id, 'utf8'),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
      await store.saveChallenge({ purpose: 'registration', challenge: options.challenge, citizenId: citizen.id }, trx);
      return options;
    },

    /** Verifies a new passkey for `citizen`; returns what to store. */
    async register(citizen: Citizen, body: unknown, rawName: string, trx?: Db): Promise<{ ok: true; value: Omit<StoredPasskey, 'id' | 'citizenId'> } | { ok: false; code: PasskeyError }> {
      const name = rawName.trim().replace(/\s+/g, ' ');
      if (!name || name.length > NAME_MAX) return { ok: false, code: 'passkey.name' };
      const response = asResponse<RegistrationResponseJSON>(body);
      const challenge = response && challengeOf(response);
      if (!response || !challenge) return { ok: false, code: 'passkey.invalid' };
      if (!(await store.consumeChallenge({ purpose: 'registration', challenge, citizenId: citizen.id }, trx))) return { ok: false, code: 'passkey.invalid' };
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true });
      } catch {
        return { ok: false, code: 'passkey.invalid' };
      }
      if (!verified.verified) return { ok: false, code: 'passkey.invalid' };
      const { credential } = verified.registrationInfo;
      if (await store.byCredentialId(credential.id, trx)) return { ok: false, code: 'passkey.exists' };
      return {
        ok: true,
        value: {
          credentialId: credential.id,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? response.response.transports ?? [],
          name,
          attachment: response.authenticatorAttachment ?? null,
          userHandle: Buffer.from(citizen.id, 'utf8').toString('base64url'),
        },
      };
    },

    /** Options for signing in (no account named: the passkey says whose it is). */
    async authenticationOptions(interactionUid: string) {
      const options = await generateAuthenticationOptions({ rpID, userVerification: 'required', allowCredentials: [] });
      await store.saveChallenge({ purpose: 'authentication', challenge: options.challenge, interactionUid });
      return options;
    },

    /**
     * Verifies an assertion made for this interaction: the challenge ours, unspent and this
     * interaction's; the origin and site ours; the passkey registered, its user handle its owner's;
     * the user verified; the signature counter moved forward (a cloned key or replayed assertion).
     */
    async authenticate(interactionUid: string, body: unknown, trx?: Db): Promise<{ ok: true; passkey: StoredPasskey; amr: string[] } | { ok: false; code: PasskeyError }> {
      const response = asResponse<AuthenticationResponseJSON>(body);
      const challenge = response && challengeOf(response);
      if (!response || !challenge) return { ok: false, code: 'passkey.invalid' };
      if (!(await store.consumeChallenge({ purpose: 'authentication', challenge, interactionUid }, trx))) return { ok: false, code: 'passkey.invalid' };
      const passkey = await store.byCredentialId(response.id, trx);
      if (!passkey) return { ok: false, code: 'passkey.unknown' };
      if (response.response.userHandle && response.response.userHandle !== passkey.userHandle) return { ok: false, code: 'passkey.invalid' };
      let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        verified = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: true,
          credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports as never },
        });
      } catch (error) {
        return { ok: false, code: /counter/i.test((error as Error).message) ? 'passkey.replayed' : 'passkey.invalid' };
      }
      if (!verified.verified) return { ok: false, code: 'passkey.invalid' };
      if (!verified.authenticationInfo.userVerified) return { ok: false, code: 'passkey.no_verification' };
      if (!(await store.used(passkey.id, passkey.counter, verified.authenticationInfo.newCounter, trx))) return { ok: false, code: 'passkey.replayed' };
      return { ok: true, passkey, amr: passkeyAmr(passkey.attachment) };
    },
  };
}

export type PasskeyCeremonies = ReturnType<typeof createPasskeyCeremonies>;
