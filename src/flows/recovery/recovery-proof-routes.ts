import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CitizenStore } from '../../identity/citizen-store.ts';
import type { RecoveryCodes } from '../../methods/recovery-codes/recovery-codes.ts';
import type { TypedRecoveryStrategy } from '../../methods/recovery-strategy.ts';
import {
  recordMatches,
  type SecretQuestions,
  standInQuestion,
} from '../../methods/secret-question/secret-question.ts';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { Ui, UiFactory } from '../../web/request-context.ts';
import { retryAfter } from '../interaction-kit.ts';
import { messagePage } from './recovery-pages.ts';
import { questionPage, savedCodePage } from './recovery-proof-pages.ts';
import type { Attempt, RecoveryStore } from './recovery-store.ts';

/** Where each typed way's page is. */
export const TYPED_WAY_PATHS: Record<TypedRecoveryStrategy['kind'], string> = {
  secret_question: '/recuperar/pergunta',
  recovery_code: '/recuperar/codigo-salvo',
};

type Deps = {
  ui: UiFactory;
  recoveries: RecoveryStore;
  citizens: CitizenStore;
  rateLimiter: RateLimiter;
  secretQuestions: SecretQuestions;
  recoveryCodes: RecoveryCodes;
  secretQuestionOn: boolean;
  current(request: FastifyRequest): Promise<Attempt | undefined>;
  startAgain(ui: Ui): FastifyReply;
};

const text = (body: unknown, key: string, max: number) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

/** What the tries are counted under: the account, or for nobody what was typed (its seed). */
const subjectOf = (attempt: Attempt) => attempt.citizenId ?? `nobody/${String(attempt.data.seed ?? '')}`;

/**
 * The two ways proven on the recovery pages themselves. Each does the same work whether or not the
 * attempt is someone's (the same reads, one argon2 verification for an answer, one keyed digest for
 * a code) and answers with the same words; only a proof that matches goes on to the new password.
 */
export function registerRecoveryProofRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, recoveries } = deps;

  async function at(request: FastifyRequest, strategy: string) {
    const attempt = await deps.current(request);
    return attempt && attempt.state === 'started' && attempt.strategy === strategy ? attempt : undefined;
  }

  /** The question shown: the account's if it has a listed one; otherwise drawn from what was typed. */
  async function questionOf(attempt: Attempt) {
    const own = attempt.citizenId ? await deps.secretQuestions.get(attempt.citizenId) : undefined;
    return own?.question ?? standInQuestion(Buffer.from(String(attempt.data.seed ?? ''), 'base64url'));
  }

  /** A proof matched: on to the new password, unless the account is disabled (only now may it say so). */
  async function proven(reply: FastifyReply, u: Ui, attempt: Attempt, data: Record<string, unknown> = {}) {
    const citizen = attempt.citizenId ? await deps.citizens.findById(attempt.citizenId) : undefined;
    if (!citizen || citizen.status !== 'active') {
      await recoveries.update(attempt.id, { state: 'failed' });
      return messagePage(u, 403, 'recovery.disabled_title', 'recovery.disabled');
    }
    await recoveries.update(attempt.id, { state: 'proven', data: { ...attempt.data, ...data } });
    return reply.redirect('/recuperar/senha', 303);
  }

  app.get('/recuperar/pergunta', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = deps.secretQuestionOn ? await at(request, 'secret_question') : undefined;
    if (!attempt) return deps.startAgain(u);
    return questionPage(u, { question: await questionOf(attempt) });
  });

  app.post('/recuperar/pergunta', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = deps.secretQuestionOn ? await at(request, 'secret_question') : undefined;
    if (!attempt) return deps.startAgain(u);
    const question = await questionOf(attempt);
    const answer = text(request.body, 'answer', 200);
    const birthdate = text(request.body, 'birthdate', 10);
    const motherName = text(request.body, 'mother_name', 200);
    if (!answer.trim() || !birthdate.trim() || !motherName.trim())
      return questionPage(u, { question, error: 'recovery.question_incomplete' });
    // Counted before the check, right or wrong: parallel guesses cannot pass the limit.
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.secretAnswers, subjectOf(attempt));
    if (!limited.allowed) {
      retryAfter(reply, limited.retryAt);
      return questionPage(u, { question, error: 'recovery.question_limited', status: 429 });
    }
    // The same reads and one argon2 verification for everyone; both proofs checked before answering.
    const citizen = await deps.citizens.findById(attempt.citizenId ?? '');
    const answered = await deps.secretQuestions.verify(attempt.citizenId, answer);
    const record = recordMatches(citizen, birthdate, motherName);
    if (!answered || !record || !attempt.citizenId)
      return questionPage(u, {
        question,
        error: limited.remaining > 0 ? 'recovery.question_wrong' : 'recovery.question_wrong_last',
        errorParams: { tries: limited.remaining },
      });
    return proven(reply, u, attempt);
  });

  app.get('/recuperar/codigo-salvo', async (request, reply) => {
    const u = ui(request, reply);
    if (!(await at(request, 'recovery_code'))) return deps.startAgain(u);
    return savedCodePage(u, {});
  });

  app.post('/recuperar/codigo-salvo', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await at(request, 'recovery_code');
    if (!attempt) return deps.startAgain(u);
    const typed = text(request.body, 'code', 64);
    if (!typed.trim()) return savedCodePage(u, { error: 'recovery.saved_code_required' });
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.recoveryCodeTries, subjectOf(attempt));
    if (!limited.allowed) {
      retryAfter(reply, limited.retryAt);
      return savedCodePage(u, { error: 'recovery.saved_code_limited', status: 429 });
    }
    // Spent at once (single use even if the rest of the recovery is never finished).
    const used = await deps.recoveryCodes.consume(attempt.citizenId, typed);
    if (!used.ok) return savedCodePage(u, { error: 'recovery.saved_code_wrong' });
    return proven(reply, u, attempt, { codesLeft: used.left });
  });
}
