import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import { ACCOUNT_CLIENT_ID } from './account-services.ts';
import {
  backToSecurity,
  browserLabel,
  type SecurityDeps,
  type SignedIn,
  serviceNames,
  when,
} from './security-routes.ts';

/**
 * The citizen's signed-in sessions: each browser the provider keeps a session for, with where and
 * when it was used and the services it reached; "end this session" and "end all others". Ending a
 * session removes it with the grants it led to and their tokens, and the services it reached get
 * a back-channel logout naming it.
 */
export function registerSessionRoutes(app: FastifyInstance, deps: SecurityDeps) {
  async function list(
    request: FastifyRequest,
    reply: FastifyReply,
    me: SignedIn,
    status = 200,
    error?: string,
  ) {
    const ui = deps.ui(request, reply);
    const { t } = ui;
    const [sessions, activity] = await Promise.all([
      deps.provider.listSessions(deps.db, me.citizen.id),
      deps.sessionActivity.forCitizen(me.citizen.id),
    ]);
    const names = await serviceNames(
      deps.db,
      sessions.flatMap((s) => s.clients.map((c) => c.clientId)),
    );
    const rows = sessions
      .map((s) => {
        const seen = activity.get(s.uid);
        const first = seen?.firstAt ?? (s.loginTs ? new Date(s.loginTs * 1000) : null);
        return { ...s, seen, first, last: seen?.lastAt ?? first, current: s.uid === me.sessionUid };
      })
      .sort(
        (a, b) =>
          Number(b.current) - Number(a.current) || (b.last?.getTime() ?? 0) - (a.last?.getTime() ?? 0),
      );
    const done = (request.query as Record<string, string>).feito === '1';
    const others = rows.filter((r) => !r.current).length;
    return ui.render(
      status,
      t('security.sessions_title'),
      html`${backToSecurity(t)}
${done ? html`<p class="notice" role="status">${t('security.sessions_ended')}</p>` : ''}
${error ? html`<div class="errors" role="alert"><p>${t(error)}</p></div>` : ''}
<p>${t('security.sessions_explain')}</p>
<ul class="data-list">${rows.map((r) => {
        const services = r.clients
          .filter((c) => c.clientId !== ACCOUNT_CLIENT_ID)
          .map((c) => names.get(c.clientId) ?? c.clientId);
        return html`<li class="data-item">
  <p class="data-name"><strong>${browserLabel(t, r.seen?.browser ?? null, r.seen?.system ?? null)}</strong>${r.current ? html` <span class="tag">${t('security.this_browser')}</span>` : ''}</p>
  <p>${t('security.session_address', { ip: r.seen?.ip ?? '—' })}</p>
  <p>${t('security.session_first', { when: r.first ? when(ui, r.first) : '—' })} · ${t('security.session_last', { when: r.last ? when(ui, r.last) : '—' })}</p>
  <p>${t('security.session_services', { services: services.length ? services.join(', ') : t('security.session_no_services') })}</p>
  ${
    r.current
      ? html`<p class="hint">${t('security.session_current_hint')}</p>`
      : html`<form method="post" action="/conta/seguranca/sessoes/encerrar">
    ${csrfField(ui.csrf())}
    <input type="hidden" name="session" value="${r.uid}">
    <button type="submit" class="secondary">${t('security.session_end', { browser: browserLabel(t, r.seen?.browser ?? null, r.seen?.system ?? null) })}</button>
  </form>`
  }
</li>`;
      })}</ul>
${
  others > 0
    ? html`<form method="post" action="/conta/seguranca/sessoes/encerrar-outras">
  ${csrfField(ui.csrf())}
  <button type="submit">${t('security.sessions_end_others')}</button>
</form>`
    : html`<p>${t('security.sessions_no_others')}</p>`
}`,
    );
  }

  app.get('/conta/seguranca/sessoes', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    return list(request, reply, me);
  });

  async function end(
    request: FastifyRequest,
    reply: FastifyReply,
    me: SignedIn,
    which: { uids: string[] } | { exceptUid: string },
  ) {
    const seen = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
    const logouts = await deps.db.transaction().execute(async (trx) => {
      const owed = await deps.provider.endSessions(trx, me.citizen.id, which);
      await deps.sessionActivity.forget(trx, me.citizen.id, which);
      await deps.securityEvents.record(
        'uids' in which
          ? { citizenId: me.citizen.id, kind: 'session_ended', detail: { by: 'citizen' }, ...seen }
          : {
              citizenId: me.citizen.id,
              kind: 'sessions_ended',
              detail: { by: 'citizen', count: new Set(owed.map((l) => l.sid)).size },
              ...seen,
            },
        trx,
      );
      return owed;
    });
    await deps.backchannelLogout(me.citizen.id, logouts);
    return reply.redirect('/conta/seguranca/sessoes?feito=1', 303);
  }

  app.post<{ Body: Record<string, unknown> }>('/conta/seguranca/sessoes/encerrar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const uid = typeof request.body?.session === 'string' ? request.body.session : '';
    // This browser's own session ends by signing out (the link on /conta), not here.
    if (uid === me.sessionUid) return list(request, reply, me, 422, 'security.session_is_current');
    const sessions = await deps.provider.listSessions(deps.db, me.citizen.id);
    if (!uid || uid.length > 100 || !sessions.some((s) => s.uid === uid))
      return list(request, reply, me, 404, 'security.session_unknown');
    return end(request, reply, me, { uids: [uid] });
  });

  app.post('/conta/seguranca/sessoes/encerrar-outras', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    return end(request, reply, me, { exceptUid: me.sessionUid });
  });
}
