import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { RECOVERED_BY_QUESTION } from '../flows/recovery/recovery-reset.ts';
import type { RecoveryStore } from '../flows/recovery/recovery-store.ts';
import type { Citizen, CitizenStore } from '../identity/citizen-store.ts';
import { createTrustLevels } from '../identity/trust-levels.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import type { RecoveryCodes } from '../methods/recovery-codes/recovery-codes.ts';
import {
  ANSWER_MAX,
  ANSWER_MIN,
  CUSTOM_QUESTION_MAX,
  isPreset,
  normaliseAnswer,
  type SecretQuestion,
  type SecretQuestions,
} from '../methods/secret-question/secret-question.ts';
import type { UiFactory } from '../web/request-context.ts';
import { codesPage, type SettingsView, settingsPage } from './recovery-settings-pages.ts';

/** Making or changing a recovery credential asks for the password again after this long. */
const RECENT_SIGN_IN_SECONDS = 10 * 60;

export type RecoverySettingsDeps = {
  secretQuestions: SecretQuestions;
  recoveryCodes: RecoveryCodes;
  recoveries: RecoveryStore;
  secretQuestionOn: boolean;
};

type Deps = RecoverySettingsDeps & {
  db: Db;
  ui: UiFactory;
  citizens: CitizenStore;
  passwordSignIn: PasswordSignIn;
  signedIn(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ citizenId: string; authTime?: number | undefined } | undefined>;
  signIn(reply: FastifyReply): FastifyReply;
};

/**
 * When the account was last recovered with the secret question, if no level above bronze was reached
 * since: /conta says the account stays bronze until a stronger proof (decision 22).
 */
export async function loweredSince(
  db: Db,
  recoveries: RecoveryStore,
  citizen: Citizen,
): Promise<Date | undefined> {
  if (citizen.trustLevel !== 'bronze') return undefined;
  const last = await recoveries.lastReset(citizen.id, 'secret_question');
  if (!last) return undefined;
  const history = await createTrustLevels(db).history(citizen.id);
  const raised = history.some(
    (c) => c.changedAt > last && c.to !== 'bronze' && c.reason !== RECOVERED_BY_QUESTION,
  );
  return raised ? undefined : last;
}

const text = (body: unknown, key: string, max: number) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

/**
 * /conta/recuperacao: the citizen's saved recovery codes (ten new ones, shown once, voiding the old)
 * and secret question. Each change needs a sign-in of the last ten minutes or the password again: a
 * browser left signed in must not be enough to plant a way back into the account.
 */
export function registerRecoverySettingsRoutes(app: FastifyInstance, deps: Deps) {
  const { ui } = deps;

  async function view(
    request: FastifyRequest,
    citizen: Citizen,
    authTime: number | undefined,
    extra: Partial<SettingsView> = {},
  ): Promise<SettingsView> {
    const [codes, question, lowered] = await Promise.all([
      deps.recoveryCodes.status(citizen.id),
      deps.secretQuestionOn ? deps.secretQuestions.get(citizen.id) : Promise.resolve(undefined),
      loweredSince(deps.db, deps.recoveries, citizen),
    ]);
    const notice = (request.query as Record<string, string> | undefined)?.salvo;
    return {
      codes,
      question,
      questionOn: deps.secretQuestionOn,
      askPassword: !(typeof authTime === 'number' && Date.now() / 1000 - authTime <= RECENT_SIGN_IN_SECONDS),
      lowered,
      ...(notice === 'pergunta' ? { notice: 'recovery_settings.question_saved' } : {}),
      ...(notice === 'removida' ? { notice: 'recovery_settings.question_removed' } : {}),
      ...extra,
    };
  }

  async function me(request: FastifyRequest, reply: FastifyReply) {
    const session = await deps.signedIn(request, reply);
    if (!session) return undefined;
    const citizen = await deps.citizens.findById(session.citizenId);
    return citizen ? { citizen, authTime: session.authTime } : undefined;
  }

  /** The password again when the sign-in is not recent; undefined when it passes. */
  async function reauthFails(
    request: FastifyRequest,
    citizen: Citizen,
    v: SettingsView,
    form: 'codes' | 'question' | 'remove',
  ) {
    if (!v.askPassword) return undefined;
    const password = text(request.body, `password-${form}`, 1000);
    const checked = await deps.passwordSignIn.attempt({
      identifier: citizen.cpf ?? citizen.email ?? citizen.phoneNumber ?? '',
      password,
      ip: request.ip,
    });
    if (checked.ok && checked.citizen.id === citizen.id) return undefined;
    const key = checked.ok ? 'login.invalid' : checked.code;
    return { form, key, status: key === 'login.throttled' ? 429 : 401 } as const;
  }

  app.get('/conta/recuperacao', async (request, reply) => {
    const m = await me(request, reply);
    if (!m) return deps.signIn(reply);
    return settingsPage(ui(request, reply), await view(request, m.citizen, m.authTime));
  });

  app.post('/conta/recuperacao/codigos', async (request, reply) => {
    const m = await me(request, reply);
    if (!m) return deps.signIn(reply);
    const u = ui(request, reply);
    const v = await view(request, m.citizen, m.authTime);
    const fail = await reauthFails(request, m.citizen, v, 'codes');
    if (fail)
      return settingsPage(u, { ...v, error: { form: fail.form, key: fail.key }, status: fail.status });
    const codes = await deps.recoveryCodes.generate(m.citizen.id);
    // Shown this once: never cached, never shown again (a reload asks to confirm a new POST).
    reply.header('cache-control', 'no-store');
    return codesPage(u, codes);
  });

  app.post('/conta/recuperacao/pergunta', async (request, reply) => {
    const m = await me(request, reply);
    if (!m) return deps.signIn(reply);
    const u = ui(request, reply);
    if (!deps.secretQuestionOn) return reply.redirect('/conta/recuperacao', 303);
    const chosen = text(request.body, 'question', 40);
    const customRaw = text(request.body, 'custom', CUSTOM_QUESTION_MAX + 1);
    const answerRaw = text(request.body, 'answer', ANSWER_MAX + 1);
    const values = { question: chosen, custom: customRaw.slice(0, CUSTOM_QUESTION_MAX) };
    const v = await view(request, m.citizen, m.authTime, { values });
    const refuse = (key: string, params?: Record<string, number>) =>
      settingsPage(u, { ...v, error: { form: 'question', key, ...(params ? { params } : {}) } });
    let question: SecretQuestion;
    if (isPreset(chosen)) question = { preset: chosen };
    else if (chosen === 'custom') {
      const custom = customRaw.replace(/\s+/g, ' ').trim();
      if (custom.length < 5) return refuse('recovery_settings.custom_required');
      if (customRaw.length > CUSTOM_QUESTION_MAX)
        return refuse('recovery_settings.custom_too_long', { max: CUSTOM_QUESTION_MAX });
      question = { custom };
    } else return refuse('recovery_settings.question_choose');
    if (answerRaw.length > ANSWER_MAX)
      return refuse('recovery_settings.answer_too_long', { max: ANSWER_MAX });
    const answer = normaliseAnswer(answerRaw);
    if (answer.length < ANSWER_MIN) return refuse('recovery_settings.answer_too_short', { min: ANSWER_MIN });
    // The question never recovers alone: the record's birth date and mother's name go with it.
    const mother = m.citizen.profile.mother_name;
    if (!m.citizen.birthdate || typeof mother !== 'string' || !mother.trim())
      return refuse('recovery_settings.record_needed');
    if (answer === normaliseAnswer(mother)) return refuse('recovery_settings.answer_is_mother');
    const fail = await reauthFails(request, m.citizen, v, 'question');
    if (fail)
      return settingsPage(u, { ...v, error: { form: fail.form, key: fail.key }, status: fail.status });
    await deps.secretQuestions.set(m.citizen.id, question, answer);
    return reply.redirect('/conta/recuperacao?salvo=pergunta', 303);
  });

  app.post('/conta/recuperacao/pergunta/remover', async (request, reply) => {
    const m = await me(request, reply);
    if (!m) return deps.signIn(reply);
    const u = ui(request, reply);
    const v = await view(request, m.citizen, m.authTime);
    const fail = await reauthFails(request, m.citizen, v, 'remove');
    if (fail)
      return settingsPage(u, { ...v, error: { form: fail.form, key: fail.key }, status: fail.status });
    await deps.secretQuestions.remove(m.citizen.id);
    return reply.redirect('/conta/recuperacao?salvo=removida', 303);
  });
}
