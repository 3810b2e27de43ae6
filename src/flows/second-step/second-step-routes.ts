import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import { deriveSignIn } from '../../methods/assurance.ts';
import type { TypedSecondStep } from '../../methods/second-step.ts';
import type { TotpCredentials } from '../../methods/totp/totp-credential.ts';
import { totpMethod, totpQrSvg, totpUri } from '../../methods/totp/totp.ts';
import { formatClock } from '../../platform/i18n.ts';
import type { Ui } from '../../web/request-context.ts';
import { type InteractionContext, type InteractionKit, type InteractionParams, retryAfter } from '../interaction-kit.ts';
import { announceFactorChange, type FactorChangeDeps, secondFactorsOf } from './factor-changes.ts';
import { type PageError, secondStepPage, totpEnrolPage } from './second-step-pages.ts';

export type SecondStepDeps = FactorChangeDeps & {
  kit: InteractionKit;
  citizens: CitizenStore;
  steps: TypedSecondStep[];
  totp: TotpCredentials;
  /** Whether the citizen has a passkey to offer (false until passkeys are wired). */
  hasPasskey(citizenId: string): Promise<boolean>;
  mailQueued(): void;
};

const text = (body: unknown, key: string, max: number) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

/** What a failed check shows: the message, and the time to come back when the account is limited. */
export function checkError(ui: Ui, reply: FastifyReply, failure: { code: string; retryAt?: Date }): { error: PageError; status: number } {
  if (failure.retryAt) {
    retryAfter(reply, failure.retryAt);
    return { error: { key: failure.code, params: { time: formatClock(failure.retryAt, ui.locale) } }, status: 429 };
  }
  return { error: { key: failure.code }, status: failure.code === 'totp.format' ? 422 : 401 };
}

/**
 * The sign-in's second step, after a password proved who this is (interaction-kit's completeLogin
 * sends the browser here): the citizen's factor, or, at a service that requires one and for a
 * citizen who has none, adding an authenticator app on the spot. Each success is a proof recorded
 * for the interaction, and the sign-in completes from the records.
 */
export function registerSecondStepRoutes(app: FastifyInstance, deps: SecondStepDeps) {
  const { kit } = deps;

  /** The interaction's citizen, proven by a first step; undefined after an "expired" page. */
  async function proven(ctx: InteractionContext): Promise<Citizen | undefined> {
    if (ctx.details.prompt.name !== 'login') return undefined;
    const who = deriveSignIn(await kit.verifications.forInteraction(ctx.details.uid));
    if (!who.ok) return undefined;
    const citizen = await deps.citizens.findById(who.result.citizenId);
    return citizen?.status === 'active' ? citizen : undefined;
  }

  async function challenge(ctx: InteractionContext, citizen: Citizen, error?: { error: PageError; status: number; method: string }) {
    const uid = ctx.details.uid;
    const steps: TypedSecondStep[] = [];
    for (const s of deps.steps) if (await s.has(citizen.id, kit.db)) steps.push(s);
    const passkey = (await deps.hasPasskey(citizen.id))
      ? { uid }
      : undefined;
    return secondStepPage(ctx.ui, {
      action: `/interaction/${uid}/segundo-passo`,
      steps,
      passkey,
      certificateHref: kit.certificateLogin && citizen.cpf ? `/interaction/${uid}/certificate` : undefined,
      intro: ctx.service?.requireSecondFactor ? 'second_step.intro_service' : 'second_step.intro',
      ...(error ? { error: error.error, status: error.status, errorMethod: error.method } : {}),
      cancelAction: `/interaction/${uid}/abort`,
    });
  }

  app.get<{ Params: InteractionParams }>('/interaction/:uid/segundo-passo', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const citizen = await proven(ctx);
    if (!citizen) return kit.expired(ctx.ui);
    return challenge(ctx, citizen);
  });

  app.post<{ Params: InteractionParams }>('/interaction/:uid/segundo-passo', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const citizen = await proven(ctx);
    if (!citizen) return kit.expired(ctx.ui);
    const methodId = text(request.body, 'method', 40);
    const step = deps.steps.find((s) => s.method.id === methodId);
    if (!step || !(await step.has(citizen.id, kit.db))) return challenge(ctx, citizen);
    const typed = text(request.body, 'code', 64);
    const checked = await kit.transaction(async (trx) => {
      const result = await step.check(trx, citizen.id, typed);
      if (result.ok) await kit.verifications.record({ interactionUid: ctx.details.uid, citizenId: citizen.id, method: step.method }, trx);
      return result;
    });
    if (!checked.ok) return challenge(ctx, citizen, { ...checkError(ctx.ui, reply, checked), method: step.method.id });
    return kit.completeLogin(request, reply, ctx);
  });

  /** Only where the policy offers it: a service requiring a second step, a citizen with no factor. */
  async function mayEnrol(ctx: InteractionContext, citizen: Citizen) {
    return Boolean(ctx.service?.requireSecondFactor) && (await secondFactorsOf(kit.db, citizen.id)).length === 0;
  }

  async function enrolPage(ctx: InteractionContext, citizen: Citizen, token: string, error?: { error: PageError; status: number }) {
    const secret = deps.totp.pending(citizen.id, token);
    if (!secret) return kit.expired(ctx.ui);
    const svg = await totpQrSvg(totpUri(secret, citizen.email ?? citizen.phoneNumber ?? citizen.name));
    return totpEnrolPage(ctx.ui, {
      action: `/interaction/${ctx.details.uid}/segundo-passo/cadastrar`,
      token,
      secret,
      svg,
      intro: 'totp.enrol_intro_service',
      ...(error ? { error: error.error, status: error.status } : {}),
    });
  }

  app.get<{ Params: InteractionParams }>('/interaction/:uid/segundo-passo/cadastrar', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const citizen = await proven(ctx);
    if (!citizen) return kit.expired(ctx.ui);
    if (!(await mayEnrol(ctx, citizen))) return reply.redirect(`/interaction/${ctx.details.uid}/segundo-passo`, 303);
    return enrolPage(ctx, citizen, deps.totp.start(citizen.id).token);
  });

  app.post<{ Params: InteractionParams }>('/interaction/:uid/segundo-passo/cadastrar', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const citizen = await proven(ctx);
    if (!citizen) return kit.expired(ctx.ui);
    if (!(await mayEnrol(ctx, citizen))) return reply.redirect(`/interaction/${ctx.details.uid}/segundo-passo`, 303);
    const token = text(request.body, 'enrolment', 2000);
    if (!deps.totp.pending(citizen.id, token)) return enrolPage(ctx, citizen, deps.totp.start(citizen.id).token, { error: { key: 'totp.enrol_expired' }, status: 422 });
    const enrolled = await kit.transaction(async (trx) => {
      const result = await deps.totp.enrol(trx, citizen.id, token, text(request.body, 'code', 64));
      if (!result.ok) return result;
      await announceFactorChange(trx, deps, citizen, { type: 'totp', data: {} }, 'added');
      await kit.verifications.record({ interactionUid: ctx.details.uid, citizenId: citizen.id, method: totpMethod }, trx);
      return result;
    });
    if (!enrolled.ok) return enrolPage(ctx, citizen, token, checkError(ctx.ui, reply, enrolled));
    deps.mailQueued();
    return kit.completeLogin(request, reply, ctx);
  });
}
