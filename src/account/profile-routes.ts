import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { type CitizenStore, profileValues, writeProfile } from '../identity/citizen-store.ts';
import { FIELD_CATALOG, type FieldValue, formValues, parseField } from '../identity/field-catalog.ts';
import { AppError } from '../http/errors.ts';
import { html } from '../http/html.ts';
import { csrfField, errorSummary } from '../http/layout.ts';
import type { Ui, UiFactory } from '../http/request-context.ts';
import { fieldInput } from '../flows/field-inputs.ts';

/** Fields a citizen edits here. CPF never changes; the e-mail changes through its own confirmation. */
export const EDITABLE_HERE = FIELD_CATALOG.filter((f) => f.editable && f.key !== 'email');
/** Cannot be emptied: every account has them. */
const ALWAYS_PRESENT = new Set(['name', 'birthdate']);

type Deps = {
  db: Db;
  ui: UiFactory;
  citizens: CitizenStore;
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<{ citizenId: string } | undefined>;
  signIn(reply: FastifyReply): FastifyReply;
};

/**
 * The citizen's own data, edited once for every service: each change is written with its event in
 * the same transaction, and the relay tells every consented service that consumes the field.
 */
export function registerProfileRoutes(app: FastifyInstance, deps: Deps) {
  function render(ui: Ui, status: number, form: Record<string, string>, errors: Record<string, string>, saved: boolean) {
    const { t, locale } = ui;
    return ui.render(
      status,
      t('profile.title'),
      html`<p><a href="/conta">${t('profile.back')}</a></p>
${saved ? html`<p class="notice" role="status">${t('profile.saved')}</p>` : ''}
${errorSummary(t, errors)}
<p>${t('profile.explain')}</p>
<form method="post" action="/conta/dados" novalidate>
  ${csrfField(ui.csrf())}
  ${EDITABLE_HERE.map((def) => fieldInput(t, locale, def, form, errors, ALWAYS_PRESENT.has(def.key)))}
  <div class="actions"><button type="submit">${t('profile.save')}</button></div>
</form>`,
    );
  }

  app.get('/conta/dados', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const citizen = (await deps.citizens.findById(me.citizenId))!;
    const values = profileValues(citizen);
    const form: Record<string, string> = {};
    for (const def of EDITABLE_HERE) Object.assign(form, formValues(def, values[def.key]));
    const saved = (request.query as Record<string, string>).salvo === '1';
    return render(deps.ui(request, reply), 200, form, {}, saved);
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/dados', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const body = request.body ?? {};
    const typed: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (k.startsWith('f_') && typeof v === 'string') typed[k] = v.slice(0, 300);
    const errors: Record<string, string> = {};
    const changes: Record<string, FieldValue | null> = {};
    for (const def of EDITABLE_HERE) {
      const parsed = parseField(def, body);
      if (!parsed.ok) Object.assign(errors, parsed.errors);
      else if (parsed.value === null && ALWAYS_PRESENT.has(def.key)) errors[`f_${def.key}`] = `field.${def.key}.required`;
      else changes[def.key] = parsed.value;
    }
    if (Object.keys(errors).length) return render(ui, 422, typed, errors, false);
    const citizen = await deps.citizens.findById(me.citizenId);
    if (!citizen) throw new AppError('interaction.expired', 400);
    // Everything inside the transaction goes through `trx`: on PGlite (one connection) a query on
    // `db` from inside a transaction would wait for the transaction forever.
    await deps.db.transaction().execute((trx) => writeProfile(trx, citizen, changes));
    return reply.redirect('/conta/dados?salvo=1', 303);
  });
}
