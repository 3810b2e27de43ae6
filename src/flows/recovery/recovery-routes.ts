import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/database.ts';
import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import { isEmail } from '../../identity/field-catalog.ts';
import { identifierKeys } from '../../identity/identifiers.ts';
import { phoneCountry, smsAllowed } from '../../identity/phone.ts';
import type { CodeMechanism } from '../../methods/code/code-mechanism.ts';
import type { PasswordHasher } from '../../methods/password/password-hasher.ts';
import type { PasswordPolicy } from '../../methods/password/password-policy.ts';
import type { RecoveryCodes } from '../../methods/recovery-codes/recovery-codes.ts';
import type { RecoveryStrategy } from '../../methods/recovery-strategy.ts';
import type { SecurityEventInput } from '../../identity/security-events.ts';
import { SIGN_IN_METHODS } from '../../methods/registry.ts';
import type { SecretQuestions } from '../../methods/secret-question/secret-question.ts';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { Ui, UiFactory } from '../../web/request-context.ts';
import { type InteractionKit, type InteractionParams, retryAfter } from '../interaction-kit.ts';
import {
  codePage,
  identifyPage,
  messagePage,
  newPasswordPage,
  notMePage,
  type WayOption,
  waysPage,
} from './recovery-pages.ts';
import { registerRecoveryProofRoutes, TYPED_WAY_PATHS } from './recovery-proof-routes.ts';
import { lockAfterNotMe, type ResetDeps, resetPassword } from './recovery-reset.ts';
import type { TypedSecondStep } from '../../methods/second-step.ts';
import { secondFactorsOf } from '../second-step/factor-changes.ts';
import { secondStepPage } from '../second-step/second-step-pages.ts';
import { checkError } from '../second-step/second-step-routes.ts';
import { type Attempt, STAND_IN_TRIES } from './recovery-store.ts';

const COOKIE = 'cdl_recovery';

/** A citizen that is no one: the stand-in whose destinations are read for nobody's identifier. */
const NOBODY: Citizen = {
  id: '',
  cpf: null,
  email: '',
  emailVerified: false,
  name: '',
  socialName: null,
  birthdate: null,
  phoneNumber: null,
  phoneNumberVerified: false,
  status: 'active',
  locale: null,
  trustLevel: 'bronze',
  profile: {},
  companies: [],
};
const UID = /^[A-Za-z0-9_-]{1,64}$/;

type Deps = ResetDeps & {
  db: Db;
  ui: UiFactory;
  kit: InteractionKit;
  citizens: CitizenStore;
  codes: CodeMechanism;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  rateLimiter: RateLimiter;
  secure: boolean;
  mailQueued: () => void;
  secretQuestions: SecretQuestions;
  recoveryCodes: RecoveryCodes;
  /** RECOVERY_SECRET_QUESTION: off removes the secret question from the ways offered. */
  secretQuestionOn: boolean;
  /**
   * The typed second steps (authenticator code, saved recovery codes): an account
   * with a second factor passes one of them before its new password (ASVS 5 6.4.3).
   */
  secondSteps: TypedSecondStep[];
};

/** The strategies of the registered methods, in registry order. */
const STRATEGIES = SIGN_IN_METHODS.flatMap((e) =>
  e.recovery ? [{ methodId: e.method.id, method: e.method, strategy: e.recovery }] : [],
);

/** After a saved code: how many are left (the page says so, and to make new ones when few are). */
const codesLeftNotice = (attempt: Attempt) =>
  typeof attempt.data.codesLeft === 'number' ? { codesLeft: attempt.data.codesLeft } : {};
/** Where a request came from, for the security record. */
const seen = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });

const text = (body: unknown, key: string, max: number) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

/**
 * Account recovery ("Esqueci minha senha"), started from a login page (the citizen then lands back
 * at the service) or from /conta. The citizen types a CPF, e-mail or mobile number; an attempt row
 * is written whether or not it is someone's, kept by this browser in a signed cookie; the next page
 * lists the account's ways, masked, or stand-ins for nobody's. Every strategy is a method's
 * (registry.ts): a code on a channel for the purpose `recovery`. Once proven: a new password,
 * everything else in recovery-reset.ts.
 */
export function registerRecoveryRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, recoveries, codes } = deps;
  const offered = STRATEGIES.filter((s) => deps.secretQuestionOn || s.strategy.kind !== 'secret_question');

  /** A security-record write that must not hold up the page (its timing would tell). */
  function note(event: SecurityEventInput, request: FastifyRequest) {
    deps.securityEvents
      .record(event)
      .catch((error) => request.log.warn({ err: { message: (error as Error).message } }, 'security event not recorded'));
  }

  async function current(request: FastifyRequest): Promise<Attempt | undefined> {
    const raw = request.cookies[COOKIE];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return undefined;
    return recoveries.find(unsigned.value);
  }

  const startAgain = (u: Ui) =>
    messagePage(u, 400, 'recovery.expired_title', 'recovery.expired', {
      href: '/recuperar',
      label: 'recovery.start_again',
    });

  /** The options for this attempt: the account's masked destinations, or stand-ins for nobody. */
  async function waysOf(attempt: Attempt, citizen: Citizen | undefined) {
    const out: {
      value: string;
      masked: string;
      address: string | null;
      strategy: RecoveryStrategy;
      methodId: string;
    }[] = [];
    const seed = Buffer.from(String(attempt.data.seed ?? ''), 'base64url');
    const typedEmail = typeof attempt.data.typedEmail === 'string' ? attempt.data.typedEmail : undefined;
    const typedPhone = typeof attempt.data.typedPhone === 'string' ? attempt.data.typedPhone : undefined;
    // SMS only to the countries the operator enabled, for an account's numbers and stand-ins alike.
    const smsOk = (address: string) => smsAllowed(address, deps.smsCountries);
    for (const { methodId, strategy } of offered) {
      if (strategy.kind !== 'code') {
        // Typed on its own page and offered to everyone alike: nothing here depends on the account.
        out.push({ value: methodId, masked: '', address: null, strategy, methodId });
        continue;
      }
      const sms = strategy.channel === 'sms';
      const list = citizen
        ? (await strategy.destinations(citizen, deps.db))
            .filter((d) => !sms || smsOk(d.address))
            .map((d) => ({ address: d.address as string | null, masked: d.masked }))
        : sms && (typedPhone ? !smsOk(typedPhone) : !deps.smsCountries.includes('BR'))
          ? []
          : strategy.standIns(seed, { email: typedEmail, phone: typedPhone }).map((masked) => ({ address: null, masked }));
      for (const [i, d] of list.entries()) out.push({ value: `${methodId}:${i}`, ...d, strategy, methodId });
    }
    return out;
  }

  const options = (u: Ui, ways: Awaited<ReturnType<typeof waysOf>>): WayOption[] =>
    ways.map((w) => ({ value: w.value, label: u.t(w.strategy.label, { address: w.masked }) }));

  // From the login page: the interaction is checked here, its uid carried in the form.
  app.get<{ Params: InteractionParams }>('/interaction/:uid/recuperar', async (request, reply) => {
    const ctx = await deps.kit.load(request, reply);
    if (!ctx) return reply;
    return identifyPage(ctx.ui, { interactionUid: ctx.details.uid });
  });

  app.get('/recuperar', async (request, reply) => identifyPage(ui(request, reply), { interactionUid: null }));

  app.post('/recuperar', async (request, reply) => {
    const u = ui(request, reply);
    const identifier = text(request.body, 'identifier', 254).trim();
    const uid = text(request.body, 'i', 100);
    const interactionUid = UID.test(uid) ? uid : null;
    // A number typed in its national form is read as one of the country chosen (Brazil by default).
    const country = phoneCountry(text(request.body, 'country', 2)) ?? 'BR';
    if (!identifier) return identifyPage(u, { interactionUid, country, error: 'recovery.identifier_required' });
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.recoveryStartsPerAddress, request.ip);
    if (!limited.allowed) {
      retryAfter(reply, limited.retryAt);
      return identifyPage(u, { interactionUid, identifier, country, error: 'recovery.limited', status: 429 });
    }
    let citizen = await deps.citizens.findByIdentifier(identifier, { country });
    // A number typed (and not a CPF: eleven digits may read as both) is what the stand-ins show for
    // nobody's, as an account found by it would show its own.
    const keys = identifierKeys(identifier, { country });
    const typedPhone = keys.some((k) => k.kind === 'cpf') ? undefined : keys.find((k) => k.kind === 'phone')?.value;
    // An account asked for too often today is answered as nobody's: no more codes reach its owner,
    // and the pages do not say so (that would say the account exists).
    if (citizen && !(await deps.rateLimiter.hit(RATE_LIMITS.recoveryStartsPerAccount, citizen.id)).allowed)
      citizen = undefined;
    const normalised = identifier.toLowerCase().replace(/[\s.\-()/]/g, '');
    const id = await recoveries.start({
      citizenId: citizen?.id ?? null,
      interactionUid,
      data: {
        seed: Buffer.from(deps.secrets.digest('recovery-stand-in', normalised), 'base64url').toString(
          'base64url',
        ),
        ...(isEmail(identifier) ? { typedEmail: identifier } : {}),
        ...(typedPhone ? { typedPhone } : {}),
      },
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
    });
    if (citizen) {
      // After the answer, like the code: only someone's identifier has a record to write to.
      const citizenId = citizen.id;
      setImmediate(() => note({ citizenId, kind: 'recovery', result: 'started', ...seen(request) }, request));
    }
    reply.setCookie(COOKIE, id, {
      path: '/recuperar',
      httpOnly: true,
      sameSite: 'lax',
      secure: deps.secure,
      signed: true,
      maxAge: 3600,
    });
    return reply.redirect('/recuperar/opcoes', 303);
  });

  app.get('/recuperar/opcoes', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state === 'reset') return startAgain(u);
    const citizen = attempt.citizenId ? await deps.citizens.findById(attempt.citizenId) : undefined;
    return waysPage(u, { ways: options(u, await waysOf(attempt, citizen)) });
  });

  app.post('/recuperar/opcoes', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state === 'reset') return startAgain(u);
    const citizen = attempt.citizenId ? await deps.citizens.findById(attempt.citizenId) : undefined;
    const ways = await waysOf(attempt, citizen);
    const chosen = ways.find((w) => w.value === text(request.body, 'way', 40));
    if (!chosen) return waysPage(u, { ways: options(u, ways), error: 'recovery.choose' });
    if (chosen.strategy.kind !== 'code') {
      await recoveries.update(attempt.id, { state: 'started', strategy: chosen.methodId });
      return reply.redirect(TYPED_WAY_PATHS[chosen.strategy.kind], 303);
    }
    const { strategy } = chosen;
    const minutes = strategy.ttlSeconds / 60;
    const data = { ...attempt.data, masked: chosen.masked, minutes, sends: 1, lastSentAt: Date.now() };
    await recoveries.update(attempt.id, {
      state: 'code_sent',
      strategy: chosen.methodId,
      codeFlowId: null,
      fakeTries: 0,
      data,
    });
    if (citizen && chosen.address) {
      // Sent after the answer: the page must not wait on work only a real account causes, or its
      // timing would tell (`npm run bench` measured 70 ms before). For the same reason a send limit
      // is not shown: the code simply does not come, as for nobody's identifier.
      const { address } = chosen;
      // In the account's language, not the page's (whoever asks may not be its owner).
      const { t } = deps.translatorFor(citizen);
      setImmediate(() => {
        deps.kit
          .transaction(async (trx) => {
            const issued = await codes.issue(trx, {
              purpose: 'recovery',
              channel: strategy.channel,
              citizenId: citizen.id,
              address,
              t,
              ttlSeconds: strategy.ttlSeconds,
            });
            if (issued.ok)
              await recoveries.update(attempt.id, { codeFlowId: issued.id, data: { ...data, address } }, trx);
            return issued.ok;
          })
          .then((sent) => sent && deps.mailQueued())
          .catch((error) =>
            request.log.warn({ err: { message: (error as Error).message } }, 'recovery code not sent'),
          );
      });
    }
    return reply.redirect('/recuperar/codigo', 303);
  });

  app.get('/recuperar/codigo', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'code_sent') return startAgain(u);
    return codePage(u, { masked: String(attempt.data.masked), minutes: Number(attempt.data.minutes) });
  });

  app.post('/recuperar/codigo', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'code_sent') return startAgain(u);
    const page = (error: string, errorParams?: Record<string, number>, status?: number) =>
      codePage(u, {
        masked: String(attempt.data.masked),
        minutes: Number(attempt.data.minutes),
        error,
        ...(errorParams ? { errorParams } : {}),
        ...(status ? { status } : {}),
      });
    const typed = text(request.body, 'code', 20);
    if (!attempt.codeFlowId || !attempt.citizenId) {
      // Nobody's: the same answers a real code gives, counted the same way.
      const tries = attempt.fakeTries + 1;
      await recoveries.update(attempt.id, { fakeTries: tries });
      if (tries >= STAND_IN_TRIES) return page('recovery.code_too_many', undefined, 429);
      return page('email_code.invalid', { tries: STAND_IN_TRIES - tries });
    }
    const checked = await codes.check({ id: attempt.codeFlowId, purpose: 'recovery', typed });
    if (!checked.ok) {
      if (checked.code === 'code.invalid') return page('email_code.invalid', { tries: checked.triesLeft });
      if (checked.code === 'code.too_many') {
        note({ citizenId: attempt.citizenId, kind: 'recovery', result: 'code_too_many', method: attempt.strategy, ...seen(request) }, request);
        return page('recovery.code_too_many', undefined, 429);
      }
      if (checked.code === 'code.expired') return page('email_code.expired');
      return page('recovery.code_unknown');
    }
    // The code proves this attempt's account only (a code is its flow's: another's cannot match).
    if (checked.proof.citizenId !== attempt.citizenId) return page('recovery.code_unknown');
    const citizen = await deps.citizens.findById(attempt.citizenId);
    if (!citizen || citizen.status !== 'active') {
      // Only whoever holds the address learns this: the pages before were the same for everyone.
      await recoveries.update(attempt.id, { state: 'failed' });
      if (citizen) note({ citizenId: citizen.id, kind: 'recovery', result: 'disabled', method: attempt.strategy, ...seen(request) }, request);
      return messagePage(u, 403, 'recovery.disabled_title', 'recovery.disabled');
    }
    note({ citizenId: citizen.id, kind: 'recovery', result: 'proven', method: attempt.strategy, ...seen(request) }, request);
    await recoveries.update(attempt.id, {
      state: 'proven',
      data: { ...attempt.data, provenChannel: checked.proof.channel, provenAddress: checked.proof.address },
    });
    return reply.redirect('/recuperar/senha', 303);
  });

  app.post('/recuperar/codigo/reenviar', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'code_sent') return startAgain(u);
    const page = (key: string, status = 200) =>
      codePage(u, {
        masked: String(attempt.data.masked),
        minutes: Number(attempt.data.minutes),
        ...(status === 200 ? { info: key } : { error: key, status }),
      });
    let outcome: string;
    if (attempt.codeFlowId) {
      const owner = attempt.citizenId ? await deps.citizens.findById(attempt.citizenId) : undefined;
      outcome = await codes.resend(attempt.codeFlowId, 'recovery', owner ? deps.translatorFor(owner).t : u.t);
    } else {
      // Nobody's: the same rules as code-store's allowResend, kept on the attempt.
      const sends = Number(attempt.data.sends ?? 1);
      const last = Number(attempt.data.lastSentAt ?? 0);
      outcome =
        attempt.fakeTries >= STAND_IN_TRIES
          ? 'code.too_many'
          : sends >= 5
            ? 'code.send_limit'
            : Date.now() - last < 30_000
              ? 'code.wait'
              : 'sent';
      if (outcome === 'sent')
        await recoveries.update(attempt.id, {
          data: { ...attempt.data, sends: sends + 1, lastSentAt: Date.now() },
        });
    }
    if (outcome === 'sent') {
      deps.mailQueued();
      return page('email_code.resent');
    }
    const messages: Record<string, string> = {
      'code.wait': 'email_code.wait',
      'code.send_limit': 'email_code.send_limit',
      'code.limited': 'email_code.send_limit',
      // The operator disabled the number's country since the code went out: no more SMS to it.
      'code.country_disabled': 'phone.country_disabled',
      'code.too_many': 'recovery.code_too_many',
      'code.unknown': 'recovery.code_unknown',
    };
    return page(messages[outcome] ?? 'recovery.code_unknown', outcome === 'code.wait' ? 422 : 429);
  });

  /**
   * Recovery does not go around the second factor: a code by e-mail or SMS proves an address, and
   * an account with a factor still passes one (or signs in with its certificate instead).
   */
  async function secondStepPending(attempt: Attempt): Promise<boolean> {
    if (!attempt.citizenId || typeof attempt.data.secondStep === 'string') return false;
    // A saved recovery code is itself something the citizen has (kept on paper): it is the step.
    if (attempt.strategy === 'recovery_code') return false;
    return (await secondFactorsOf(deps.db, attempt.citizenId)).length > 0;
  }

  async function secondStepForm(u: Ui, attempt: Attempt, error?: ReturnType<typeof checkError> & { method: string }) {
    const steps: TypedSecondStep[] = [];
    for (const s of deps.secondSteps) if (await s.has(attempt.citizenId!, deps.db)) steps.push(s);
    return secondStepPage(u, {
      action: '/recuperar/segundo-passo',
      steps,
      intro: 'second_step.intro_recovery',
      certificateHref: deps.kit.certificateLogin && attempt.interactionUid ? `/interaction/${attempt.interactionUid}/certificate` : undefined,
      ...(error ? { error: error.error, status: error.status, errorMethod: error.method } : {}),
    });
  }

  app.get('/recuperar/segundo-passo', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'proven' || !attempt.citizenId) return startAgain(u);
    if (!(await secondStepPending(attempt))) return reply.redirect('/recuperar/senha', 303);
    return secondStepForm(u, attempt);
  });

  app.post('/recuperar/segundo-passo', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'proven' || !attempt.citizenId) return startAgain(u);
    if (!(await secondStepPending(attempt))) return reply.redirect('/recuperar/senha', 303);
    const citizenId = attempt.citizenId;
    const step = deps.secondSteps.find((s) => s.method.id === text(request.body, 'method', 40));
    if (!step || !(await step.has(citizenId, deps.db))) return secondStepForm(u, attempt);
    const checked = await deps.kit.transaction(async (trx) => {
      const result = await step.check(trx, citizenId, text(request.body, 'code', 64));
      if (result.ok) await recoveries.update(attempt.id, { data: { ...attempt.data, secondStep: step.method.id } }, trx);
      return result;
    });
    if (!checked.ok) return secondStepForm(u, attempt, { ...checkError(u, reply, checked), method: step.method.id });
    return reply.redirect('/recuperar/senha', 303);
  });

  app.get('/recuperar/senha', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'proven') return startAgain(u);
    if (await secondStepPending(attempt)) return reply.redirect('/recuperar/segundo-passo', 303);
    return newPasswordPage(u, codesLeftNotice(attempt));
  });

  app.post('/recuperar/senha', async (request, reply) => {
    const u = ui(request, reply);
    const attempt = await current(request);
    if (!attempt || attempt.state !== 'proven' || !attempt.citizenId) return startAgain(u);
    const citizen = await deps.citizens.findById(attempt.citizenId);
    if (!citizen) return startAgain(u);
    if (await secondStepPending(attempt)) return reply.redirect('/recuperar/segundo-passo', 303);
    const password = text(request.body, 'password', 1000);
    const problem = deps.policy.check(password, {
      cpf: citizen.cpf,
      name: citizen.name,
      birthdate: citizen.birthdate,
      email: citizen.email ?? '',
    });
    if (problem) return newPasswordPage(u, { error: problem, ...codesLeftNotice(attempt) });
    const passwordHash = await deps.hasher.hash(password);
    const provenEmail = attempt.data.provenChannel === 'email' ? String(attempt.data.provenAddress) : null;
    const method = STRATEGIES.find((s) => s.methodId === attempt.strategy)?.method;
    const result = await deps.kit.transaction(async (trx) => {
      const done = await resetPassword(trx, deps, {
        attemptId: attempt.id,
        citizenId: citizen.id,
        passwordHash,
        provenEmail,
        // Knowledge alone is the weakest proof: the account drops to bronze until a stronger one.
        dropToBronze: attempt.strategy === 'secret_question',
        userAgent: request.headers['user-agent'] ?? null,
        ip: request.ip,
        strategy: attempt.strategy,
      });
      // Back at the service: the code proved who this is, for the interaction it was started from.
      if (done.done && attempt.interactionUid && method) {
        await deps.kit.verifications.record(
          { interactionUid: attempt.interactionUid, citizenId: citizen.id, method },
          trx,
        );
        // The second step passed here counts for that sign-in too.
        const second = deps.secondSteps.find((s) => s.method.id === attempt.data.secondStep);
        if (second) await deps.kit.verifications.record({ interactionUid: attempt.interactionUid, citizenId: citizen.id, method: second.method }, trx);
      }
      return done;
    });
    if (!result.done) return messagePage(u, 403, 'recovery.disabled_title', 'recovery.disabled');
    deps.mailQueued();
    // Committed: the services of every session ended now hear of it (decision 21).
    await deps.backchannelLogout(citizen.id, result.logouts);
    reply.clearCookie(COOKIE, { path: '/recuperar' });
    if (attempt.interactionUid) return reply.redirect(`/interaction/${attempt.interactionUid}/complete`, 303);
    return messagePage(u, 200, 'recovery.done_title', 'recovery.done', {
      href: '/conta',
      label: 'recovery.sign_in',
    });
  });

  registerRecoveryProofRoutes(app, {
    ui,
    recoveries,
    citizens: deps.citizens,
    rateLimiter: deps.rateLimiter,
    secretQuestions: deps.secretQuestions,
    recoveryCodes: deps.recoveryCodes,
    secretQuestionOn: deps.secretQuestionOn,
    current,
    startAgain,
  });

  app.get('/recuperar/nao-fui-eu', async (request, reply) => notMePage(ui(request, reply), {}));

  app.post('/recuperar/nao-fui-eu', async (request, reply) => {
    const u = ui(request, reply);
    const token = text(request.body, 'token', 64).trim();
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.recoveryStartsPerAddress, request.ip);
    if (!limited.allowed) return notMePage(u, { error: 'recovery.limited', status: 429 });
    const locked = token ? await deps.kit.transaction((trx) => lockAfterNotMe(trx, deps, token, seen(request))) : undefined;
    if (!locked) return notMePage(u, { error: 'recovery.not_me_unknown' });
    await deps.backchannelLogout(locked.citizenId, locked.logouts);
    return messagePage(u, 200, 'recovery.locked_title', 'recovery.locked', {
      href: '/recuperar',
      label: 'recovery.start_again',
    });
  });
}
