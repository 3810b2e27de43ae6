import type { Db } from '../../db/database.ts';
import type { Citizen } from '../../identity/citizen-store.ts';
import type { CredentialStore } from '../../identity/credential-store.ts';
import type { SignInMethod } from '../method.ts';
import type { PasswordHasher } from '../password/password-hasher.ts';

/**
 * The secret question (issue 10): a knowledge proof that OWASP ASVS 5 and NIST SP 800-63B-4 forbid
 * on its own, kept because the reference system offers it. It never recovers an account alone (the
 * recovery flow asks the record's birth date and mother's name with it), a deployment can turn it
 * off (`RECOVERY_SECRET_QUESTION=off`), and an account recovered with it drops to bronze
 * (decision 22). The answer is stored as an argon2id hash of its normalised form.
 */
export const PRESET_QUESTIONS = [
  'first_school',
  'childhood_street',
  'first_pet',
  'favourite_teacher',
  'parents_met',
  'childhood_friend',
  'first_job',
] as const;
export type PresetQuestion = (typeof PRESET_QUESTIONS)[number];

/** A question from the list (translated on each page), or one the citizen wrote. */
export type SecretQuestion = { preset: PresetQuestion } | { custom: string };

export const ANSWER_MIN = 3;
export const ANSWER_MAX = 200;
export const CUSTOM_QUESTION_MAX = 200;

export const isPreset = (v: unknown): v is PresetQuestion =>
  typeof v === 'string' && (PRESET_QUESTIONS as readonly string[]).includes(v);

/** "  São   JOSÉ " and "sao jose" are one answer: no case, no accents, single inner spaces. */
export function normaliseAnswer(typed: string): string {
  return typed.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('pt-BR').replace(/\s+/g, ' ').trim();
}

/**
 * Whether what was typed matches the record's birth date and mother's name, the second proof the
 * question needs. A record without either never matches (/conta asks for both before a question).
 */
export function recordMatches(citizen: Citizen | undefined, birthdate: string, motherName: string): boolean {
  const recorded = citizen?.profile.mother_name;
  if (!citizen?.birthdate || typeof recorded !== 'string' || !recorded.trim()) return false;
  const date = parseDate(birthdate);
  return date === citizen.birthdate.slice(0, 10) && normaliseAnswer(motherName) === normaliseAnswer(recorded);
}

/** `1980-05-31` (a date input) or `31/05/1980` (typed by hand). */
export function parseDate(typed: string): string | null {
  const t = typed.trim();
  const iso = t.match(/^(\d{4})-(\d{2})-(\d{2})$/);
  if (iso) return `${iso[1]}-${iso[2]}-${iso[3]}`;
  const br = t.match(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/);
  if (br) return `${br[3]}-${br[2]!.padStart(2, '0')}-${br[1]!.padStart(2, '0')}`;
  return null;
}

/**
 * For an identifier that is nobody's: the question its recovery page shows, drawn from the seed (the
 * same every time). About one in five citizens writes their own question, which the recovery page
 * never shows (it would tell that the account exists): "the question you wrote".
 */
export function standInQuestion(seed: Buffer): SecretQuestion | undefined {
  const byte = seed[12] ?? 0;
  if (byte < 51) return { custom: '' };
  return { preset: PRESET_QUESTIONS[(seed[13] ?? 0) % PRESET_QUESTIONS.length]! };
}

export function createSecretQuestions(deps: { credentials: CredentialStore; hasher: PasswordHasher }) {
  const { credentials, hasher } = deps;
  return {
    async get(citizenId: string, trx?: Db): Promise<{ question: SecretQuestion; setAt: Date } | undefined> {
      const row = await credentials.get(citizenId, 'secret_question', trx);
      if (!row?.secret) return undefined;
      const { preset, custom } = row.data as { preset?: unknown; custom?: unknown };
      const question: SecretQuestion = isPreset(preset) ? { preset } : { custom: String(custom ?? '') };
      return { question, setAt: row.updatedAt };
    },

    async set(citizenId: string, question: SecretQuestion, answer: string, trx?: Db): Promise<void> {
      const secret = await hasher.hash(normaliseAnswer(answer));
      await credentials.set(citizenId, 'secret_question', { secret, data: question }, trx);
    },

    async remove(citizenId: string, trx?: Db): Promise<void> {
      await credentials.remove(citizenId, 'secret_question', trx);
    },

    /**
     * Whether `answer` is the account's. The same work (a read and one argon2 verification) with or
     * without an account or a question, so the answer's timing tells nothing.
     */
    async verify(citizenId: string | null, answer: string): Promise<boolean> {
      const row = await credentials.get(citizenId ?? '', 'secret_question');
      const ok = await hasher.verify(row?.secret ?? null, normaliseAnswer(answer));
      if (ok && row) await credentials.markUsed(row.id);
      return ok && !!row;
    },
  };
}

export type SecretQuestions = ReturnType<typeof createSecretQuestions>;

/** Recorded when a recovery was proven with it: knowledge, the lowest level, `kba` (RFC 8176). */
export const secretQuestionMethod: SignInMethod = {
  id: 'secret_question',
  factor: 'knowledge',
  amr: ['kba'],
  assurance: 'bronze',
  async has(citizen, db) {
    const row = await db
      .selectFrom('credentials')
      .select('id')
      .where('citizen_id', '=', citizen.id)
      .where('type', '=', 'secret_question')
      .executeTakeFirst();
    return !!row;
  },
};
