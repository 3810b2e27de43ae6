import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CertificateConfig } from '../../config/config.ts';
import type { InteractionKit, InteractionParams } from '../../flows/interaction-kit.ts';
import { html } from '../../web/html.ts';
import type { Ui, UiFactory } from '../../web/request-context.ts';
import type { CertificateHandoffs } from './certificate-handoff.ts';
import type { CertificateRuntime } from './certificate-runtime.ts';
import type { CertificateSignIn } from './certificate-sign-in.ts';
import type { CertificateSource } from './certificate-source.ts';

type Log = { info(o: object, m: string): void; warn(o: object, m: string): void };

/** Everything the certificate's routes use, built once by the composition root. */
export type CertificateLogin = {
  settings: Pick<CertificateConfig, 'loginUrl' | 'proxy'>;
  publicUrl: string;
  runtime: CertificateRuntime;
  handoffs: CertificateHandoffs;
  source: CertificateSource;
  signIn: CertificateSignIn;
  ui: UiFactory;
  log: Log;
};

export const RECEIVER_PATH = '/certificate/login';

/**
 * On the main listener: the page the login page's "sign in with a digital certificate" leads to. It
 * says what is about to happen and posts the sealed handoff to where the certificate is asked for
 * (the certificate listener, or the proxy in front of it). Behind a proxy that forwards the
 * certificate in a header, the receiving route lives on this listener too.
 */
export function registerCertificateRoutes(app: FastifyInstance, deps: { kit: InteractionKit; login: CertificateLogin }) {
  const { kit, login } = deps;
  app.get<{ Params: InteractionParams }>('/interaction/:uid/certificate', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const handoff = login.handoffs.issue({ uid: details.uid, locale: ui.locale });
    return ui.render(
      200,
      ui.t('certificate.title'),
      html`<p>${ui.t('certificate.explain')}</p>
<p>${ui.t('certificate.explain_choose')}</p>
<form method="post" action="${login.settings.loginUrl}${RECEIVER_PATH}">
  <input type="hidden" name="handoff" value="${handoff}">
  <div class="actions"><button type="submit">${ui.t('certificate.continue')}</button></div>
</form>
<p><a href="/interaction/${details.uid}">${ui.t('certificate.back')}</a></p>`,
    );
  });
  if (login.settings.proxy) registerCertificateReceiver(app, login);
}

/**
 * Where the certificate arrives (the TLS listener's one route; behind a proxy, also the main
 * listener's): spend the handoff, take the certificate from the handshake or the trusted proxy's
 * header, check it, record what it proves for the handoff's interaction, and send the browser back
 * to the main address to complete the sign-in (or to register with the data it read).
 */
export function registerCertificateReceiver(app: FastifyInstance, login: CertificateLogin) {
  function refuse(ui: Ui, reply: FastifyReply, status: number, message: string, back: string) {
    return ui.render(
      status,
      ui.t('certificate.refused_title'),
      html`<div class="errors" role="alert"><p>${message}</p></div>
<p><a class="button" href="${back}">${ui.t('certificate.back')}</a></p>`,
    );
  }

  app.post<{ Body: Record<string, unknown> }>(RECEIVER_PATH, { config: { csrf: false } }, async (request: FastifyRequest<{ Body: Record<string, unknown> }>, reply) => {
    const spent = await login.handoffs.consume(request.body?.handoff);
    if (!spent.ok) {
      const ui = login.ui(request, reply, spent.locale);
      return refuse(ui, reply, 400, ui.t(`certificate.handoff_${spent.reason}`), `${login.publicUrl}/`);
    }
    const { uid, locale } = spent.handoff;
    const ui = login.ui(request, reply, locale);
    const back = `${login.publicUrl}/interaction/${uid}`;
    const presented = login.source.read(request.raw);
    if (!presented.ok) {
      if (presented.reason === 'untrusted_header') {
        login.log.warn({ peer: presented.peer, header: login.settings.proxy?.header }, 'client certificate header from an address not in CERT_TRUSTED_PROXIES: ignored');
      }
      const message = presented.reason === 'unreadable' ? ui.t('cert.unreadable') : ui.t('certificate.none');
      return refuse(ui, reply, 400, message, back);
    }
    const { certificate, presented: chain, source } = presented.value;
    const decision = await login.runtime.check(certificate, chain);
    if (!decision.accepted) {
      login.log.info({ reason: decision.reason, source, issuer: decision.certificate?.issuer, serial: decision.certificate?.serial }, 'client certificate refused');
      return refuse(ui, reply, 403, ui.t(decision.reason!), back);
    }
    if (decision.crl === 'grace') {
      login.log.warn({ issuer: decision.certificate?.issuer }, 'client certificate accepted on a CRL past its nextUpdate (grace period)');
    }
    const outcome = await login.signIn.prove(uid, decision);
    if (outcome.outcome === 'account_unavailable') return refuse(ui, reply, 403, ui.t('certificate.account_unavailable'), back);
    if (outcome.outcome === 'refused') return refuse(ui, reply, 409, ui.t(`cpf_claim.${outcome.reason}`), back);
    const next = outcome.outcome === 'signed_in' ? 'complete' : 'register';
    return reply.redirect(`${login.publicUrl}/interaction/${uid}/${next}`, 303);
  });
}
