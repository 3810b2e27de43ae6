import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import type { Citizen } from '../identity/citizen-store.ts';
import type { InteractionContext, InteractionKit } from '../flows/interaction-kit.ts';
import type { RateLimiter } from '../platform/rate-limit.ts';
import { certificateMethod } from './certificate/certificate-method.ts';
import { type CertificateLogin, registerCertificateRoutes } from './certificate/certificate-routes.ts';
import type { CodeMechanism } from './code/code-mechanism.ts';
import { emailCodeMethod } from './email-code/email-code.ts';
import { emailRecovery } from './email-code/email-recovery.ts';
import type { SignInMethod } from './method.ts';
import { passwordMethod } from './password/password-method.ts';
import type { PasswordPolicy } from './password/password-policy.ts';
import { registerPasswordRoutes } from './password/password-routes.ts';
import type { PasswordSignIn } from './password/password-sign-in.ts';
import type { RecoveryStrategy } from './recovery-strategy.ts';
import { smsCodeMethod } from './sms-code/sms-code.ts';
import { smsRecovery } from './sms-code/sms-recovery.ts';
import { recoveryCodeMethod } from './recovery-codes/recovery-codes.ts';
import { recoveryCodesRecovery } from './recovery-codes/recovery-codes-recovery.ts';
import { secretQuestionMethod } from './secret-question/secret-question.ts';
import { secretQuestionRecovery } from './secret-question/secret-question-recovery.ts';
import { totpMethod } from './totp/totp.ts';
import { passkeyMethod } from './passkey/passkey.ts';
import type { PasskeyCeremonies } from './passkey/passkey-ceremonies.ts';
import { registerPasskeyRoutes } from './passkey/passkey-routes.ts';

/** What a method's routes may use: the interaction kit, the login flow's next step, the shared parts. */
export type MethodRouteDeps = {
  kit: InteractionKit;
  codes: CodeMechanism;
  rateLimiter: RateLimiter;
  passwordSignIn: PasswordSignIn;
  passwordPolicy: PasswordPolicy;
  /** Certificate sign-in, when configured (CERT_TRUST_DIR and a listener or proxy). */
  certificate: CertificateLogin | undefined;
  passkeys: PasskeyCeremonies;
  continueSignIn(request: FastifyRequest, reply: FastifyReply, ctx: InteractionContext, citizen: Citizen, identifier: string): Promise<unknown>;
};

export type MethodEntry = {
  method: SignInMethod;
  /** The method's own pages and routes, if it has any. */
  registerRoutes?: (app: FastifyInstance, deps: MethodRouteDeps) => void;
  /** How the method helps a citizen who lost the password (src/flows/recovery/ lists these). */
  recovery?: RecoveryStrategy;
};

/**
 * Every way of proving something, one line each. A new method is a folder under src/methods/ and a
 * line here; no flow changes.
 */
export const SIGN_IN_METHODS: readonly MethodEntry[] = [
  {
    method: passwordMethod,
    registerRoutes: (app, d) =>
      registerPasswordRoutes(app, { kit: d.kit, signIn: d.passwordSignIn, policy: d.passwordPolicy, rateLimiter: d.rateLimiter, continueSignIn: d.continueSignIn }),
  },
  { method: emailCodeMethod, recovery: emailRecovery },
  { method: smsCodeMethod, recovery: smsRecovery },
  { method: recoveryCodeMethod, recovery: recoveryCodesRecovery },
  { method: secretQuestionMethod, recovery: secretQuestionRecovery },
  // A second step: its pages are the login flow's (flows/second-step/), its typed check is in app.ts's list.
  { method: totpMethod },
  { method: passkeyMethod, registerRoutes: (app, d) => registerPasskeyRoutes(app, { kit: d.kit, passkeys: d.passkeys }) },
  { method: certificateMethod, registerRoutes: (app, d) => d.certificate && registerCertificateRoutes(app, { kit: d.kit, login: d.certificate }) },
];

export function methodById(id: string): SignInMethod | undefined {
  return SIGN_IN_METHODS.find((e) => e.method.id === id)?.method;
}

/** The methods this citizen can sign in with now. */
export async function methodsOf(citizen: Citizen, db: Db): Promise<SignInMethod[]> {
  const out: SignInMethod[] = [];
  for (const { method } of SIGN_IN_METHODS) if (await method.has(citizen, db)) out.push(method);
  return out;
}
