import type { Db } from '../../db/database.ts';
import type { Citizen } from '../../identity/citizen-store.ts';
import { isTyped } from '../../identity/field-catalog.ts';
import type { FastifyInstance } from 'fastify';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { CertificateReading, CertificateSignIn } from '../../methods/certificate/certificate-sign-in.ts';
import type { Service } from '../../services/service-store.ts';
import { type InteractionKit, type InteractionParams, retryAfter } from '../interaction-kit.ts';
import { readRegistrationForm, REGISTRATION_FIELDS, type RegistrationFlow, type RegistrationForm } from './registration-flow.ts';
import { registrationPage } from './registration-page.ts';

/** What the signing-in service requires beyond the core form, so the citizen types it once. */
function serviceAsks(service: Service | undefined) {
  // The account's level and companies are never typed: a contract that requires them is not asking the form.
  const required = (service?.fields ?? []).filter((f) => f.required && isTyped(f.key)).map((f) => f.key);
  return {
    extraFields: required.filter((k) => !(REGISTRATION_FIELDS as readonly string[]).includes(k)),
    requiredCore: required.filter((k) => (REGISTRATION_FIELDS as readonly string[]).includes(k)),
  };
}

/** The form's values a certificate read in this interaction fixes: they are its, not typed. */
function fromCertificate(reading: CertificateReading | undefined): { values: Partial<RegistrationForm>; locked: string[] } {
  if (!reading) return { values: {}, locked: [] };
  const { cpf, name, birthdate } = reading.identity;
  const values: Partial<RegistrationForm> = { cpf };
  if (name) values.name = name;
  if (birthdate) values.birthdate = birthdate;
  return { values, locked: Object.keys(values) };
}

/** Registration from a service's login page: the form, then the e-mail confirmation. */
export function registerRegistrationRoutes(
  app: FastifyInstance,
  deps: {
    kit: InteractionKit;
    registration: RegistrationFlow;
    rateLimiter: RateLimiter;
    mailQueued: () => void;
    /** Registration opened by a certificate whose CPF had no account. */
    certificates?: Pick<CertificateSignIn, 'reading' | 'registered'>;
  },
) {
  const { kit } = deps;
  const readingFor = async (uid: string) => (deps.certificates ? await deps.certificates.reading(uid) : undefined);

  app.get<{ Params: InteractionParams }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const certificate = fromCertificate(await readingFor(ctx.details.uid));
    return registrationPage(ctx.ui, {
      uid: ctx.details.uid,
      serviceName: ctx.service?.name,
      ...serviceAsks(ctx.service),
      form: certificate.values,
      locked: certificate.locked,
    });
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const reading = await readingFor(details.uid);
    const certificate = fromCertificate(reading);
    // What the certificate says wins over whatever the browser sent for those fields.
    const form = { ...readRegistrationForm(request.body ?? {}), ...certificate.values };
    const asks = { ...serviceAsks(service), locked: certificate.locked };
    const body = request.body ?? {};
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.registration, request.ip);
    if (!limited.allowed) {
      retryAfter(reply, limited.retryAt);
      return registrationPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        form: { ...form, password: '' },
        errors: { cpf: 'register.rate_limited' },
        ...asks,
        status: 429,
      });
    }
    const result = await deps.registration.register(form, {
      interactionUid: details.uid,
      locale: ui.locale,
      t: ui.t,
      extra: { fields: [...asks.requiredCore, ...asks.extraFields], body },
      ...(reading && deps.certificates
        ? { onCreated: (trx: Db, citizen: Citizen) => deps.certificates!.registered(trx, details.uid, citizen, reading) }
        : {}),
    });
    if (!result.ok) {
      // Everything typed comes back, except the password.
      const extraForm: Record<string, string> = {};
      for (const [k, v] of Object.entries(body)) if (k.startsWith('f_') && typeof v === 'string') extraForm[k] = v.slice(0, 300);
      return registrationPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        form: { ...form, password: '' },
        errors: result.errors,
        ...asks,
        extraForm,
      });
    }
    deps.mailQueued();
    return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
  });
}
