import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.ts';
import { html } from '../web/html.ts';
import type { UiFactory } from '../web/request-context.ts';

/** Development only: the mails Cidadela would have sent, newest first. Never registered in production. */
export function registerDevOutboxRoutes(app: FastifyInstance, deps: { db: Db; ui: UiFactory }) {
  app.get('/dev/outbox', async (request, reply) => {
    const ui = deps.ui(request, reply);
    const rows = await deps.db
      .selectFrom('messages')
      .select(['id', 'channel', 'recipient', 'subject', 'body_text', 'status', 'created_at'])
      .orderBy('id', 'desc')
      .limit(30)
      .execute();
    return ui.render(
      200,
      ui.t('dev_outbox.title'),
      html`<p>${ui.t('dev_outbox.explain')}</p>
${rows.length === 0 ? html`<p>${ui.t('dev_outbox.empty')}</p>` : ''}
${rows.map(
  (r) => html`<article>
  <h2>${r.channel === 'sms' ? `SMS · ${r.recipient}` : r.subject}</h2>
  <p class="hint">${ui.t('dev_outbox.to')}: ${r.recipient} · ${new Date(r.created_at).toISOString()} · ${r.status}</p>
  <pre>${r.body_text ?? ''}</pre>
</article>`,
)}`,
    );
  });
}
