import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { randomId, type Secrets } from '../../security/secrets.ts';

/**
 * The login page hands the interaction over to the certificate's listener (another port or host,
 * which never sees the interaction cookie) with this: sealed with a key derived from SECRET_KEY
 * (AES-256-GCM, so the browser can neither read nor forge it), naming the interaction, short-lived,
 * and single-use (each one used is remembered in the database until it would have expired).
 */
export const HANDOFF_TTL_SECONDS = 10 * 60;
const PURPOSE = 'certificate-handoff/v1';

export type Handoff = { uid: string; locale: string };
export type HandoffRefusal = 'invalid' | 'expired' | 'used';

export function createCertificateHandoffs(deps: { db: Db; secrets: Secrets; now?: () => number }) {
  const now = deps.now ?? Date.now;
  return {
    issue(input: Handoff): string {
      const payload = { p: PURPOSE, id: randomId(), uid: input.uid, l: input.locale, exp: Math.floor(now() / 1000) + HANDOFF_TTL_SECONDS };
      return deps.secrets.seal(JSON.stringify(payload));
    },

    /** Opens and spends a handoff; a second use of the same one is refused. */
    async consume(token: unknown): Promise<{ ok: true; handoff: Handoff } | { ok: false; reason: HandoffRefusal; locale?: string }> {
      if (typeof token !== 'string' || token.length === 0 || token.length > 2048) return { ok: false, reason: 'invalid' };
      let payload: { p?: unknown; id?: unknown; uid?: unknown; l?: unknown; exp?: unknown };
      try {
        payload = JSON.parse(deps.secrets.open(token));
      } catch {
        return { ok: false, reason: 'invalid' };
      }
      const { p, id, uid, l, exp } = payload;
      if (p !== PURPOSE || typeof id !== 'string' || typeof uid !== 'string' || typeof l !== 'string' || typeof exp !== 'number') {
        return { ok: false, reason: 'invalid' };
      }
      if (exp * 1000 <= now()) return { ok: false, reason: 'expired', locale: l };
      const inserted = await deps.db
        .insertInto('certificate_handoffs')
        .values({ id, interaction_uid: uid, expires_at: new Date(exp * 1000) })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return { ok: false, reason: 'used', locale: l };
      return { ok: true, handoff: { uid, locale: l } };
    },

    async prune(): Promise<void> {
      await deps.db.deleteFrom('certificate_handoffs').where('expires_at', '<', sql<Date>`now()`).execute();
    },
  };
}

export type CertificateHandoffs = ReturnType<typeof createCertificateHandoffs>;
