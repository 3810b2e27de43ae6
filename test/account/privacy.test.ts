import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TABLE_EXPORTS } from '../../src/account/data-export.ts';
import { ACCOUNT_PURGED } from '../../src/events/set-format.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { personalDataErasers } from '../../src/personal-data.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, formFields } from '../helpers/user-agent.ts';

/*
 * LGPD self-service on the account pages (issue 16): the history, the export of everything kept,
 * and the deletion with its grace period, its purge by every module's eraser and the services told
 * on their event queues. Bad input (another session's form, a wrong or 10,000-character password,
 * 10,000-character fields) gets a clear message and changes nothing.
 */

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

const basic = (svc: TestService) =>
  `Basic ${Buffer.from(`${encodeURIComponent(svc.clientId)}:${encodeURIComponent(svc.clientSecret)}`).toString('base64')}`;

/** Every SET waiting for the service (poll, RFC 8936), acknowledged, as event type lists. */
async function received(svc: TestService): Promise<{ sub: string; types: string[] }[]> {
  await app.events.relay.runOnce();
  const poll = async (body: Record<string, unknown>) => {
    const res = await fetch(`${app.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: basic(svc), 'content-type': 'application/json' },
      body: JSON.stringify({ returnImmediately: true, ...body }),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { sets: Record<string, string> };
  };
  const { sets } = await poll({ maxEvents: 1000 });
  if (Object.keys(sets).length) await poll({ ack: Object.keys(sets), maxEvents: 0 });
  return Object.values(sets).map((jwt) => {
    const claims = decodeJwt(jwt) as { sub_id?: { sub?: string }; events: Record<string, unknown> };
    return { sub: claims.sub_id?.sub ?? '', types: Object.keys(claims.events) };
  });
}

async function signedUpCitizen() {
  const svc = await addService(app, { name: 'Matrícula escolar' });
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const auth = await authorizationRequest(svc);
  const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
  const cb = await answerConsent(ua, page, svc);
  assert.ok(cb.url.startsWith(svc.redirectUri));
  const row = await app.db.db
    .selectFrom('citizens')
    .select('id')
    .where('email', '=', citizen.email)
    .executeTakeFirstOrThrow();
  return { svc, ua, citizen, id: row.id };
}

/** A valid CSRF token, of another browser's session: what a forged form would carry. */
async function otherSessionToken(): Promise<string> {
  const page = await new UserAgent().get(`${app.url}/recuperar`);
  const token = csrfOf(page.html);
  assert.ok(token);
  return token;
}

const pendingDeletion = (id: string) =>
  app.db.db.selectFrom('account_deletions').selectAll().where('citizen_id', '=', id).executeTakeFirst();

describe('LGPD self-service', () => {
  test('every table a deletion erases or keeps is in the export, read or left out with its reason', () => {
    const tables = new Set(
      personalDataErasers(createProviderState()).flatMap((e) => [
        ...Object.keys(e.erases),
        ...Object.keys(e.retains ?? {}),
      ]),
    );
    const missing = [...tables].filter((table) => !(table in TABLE_EXPORTS));
    assert.deepEqual(missing, [], 'tables with personal data the export would forget');
  });

  test('history and export: every consent with its terms version, everything stored, no secret', async () => {
    const { ua, citizen } = await signedUpCitizen();
    const history = await ua.get(`${app.url}/conta/privacidade/historico`);
    assert.equal(history.status, 200);
    assert.match(history.html, /Matrícula escolar/);
    assert.match(history.html, /Você autorizou o envio de: Nome completo, E-mail, CPF\./);
    assert.match(history.html, /Termos, versão 1\./);

    const json = await ua.get(`${app.url}/conta/privacidade/meus-dados.json`);
    assert.equal(json.status, 200);
    assert.match(json.headers.get('content-disposition') ?? '', /^attachment/);
    const body = JSON.parse(json.html) as {
      data: Record<string, Record<string, unknown>[]>;
      notExported: Record<string, string>;
    };
    assert.equal(body.data.citizens![0]!.name, citizen.name);
    assert.equal(body.data.citizens![0]!.cpf, citizen.cpf);
    assert.deepEqual(body.data.identifiers!.map((i) => i.kind).sort(), ['cpf', 'email']);
    assert.deepEqual(
      body.data.credentials!.map((c) => c.type),
      ['password'],
    );
    assert.deepEqual(
      body.data.consents!.map((c) => c.action),
      ['granted'],
    );
    assert.equal(body.data.consents![0]!.terms_version, 1);
    assert.ok(
      body.data.messages!.some((m) => m.recipient === citizen.email),
      'the confirmation mail sent to the citizen',
    );
    assert.ok(
      body.data.oidc_payloads!.some((p) => p.model === 'Session'),
      'the open session',
    );
    assert.ok('login_throttle' in body.notExported);
    const hash = (
      await app.db.db
        .selectFrom('credentials')
        .select('secret')
        .where('type', '=', 'password')
        .where('citizen_id', '=', body.data.citizens![0]!.id as string)
        .executeTakeFirstOrThrow()
    ).secret!;
    assert.ok(!json.html.includes(hash), 'the password hash is not exported');
    assert.ok(!json.html.includes('argon2'), 'nothing of a password hash');

    const page = await ua.get(`${app.url}/conta/privacidade/meus-dados`);
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1>Os meus dados<\/h1>/);
    assert.ok(page.html.includes(citizen.name));
    assert.match(page.html, /Registro de autorizações e revogações/);
    assert.ok(!page.html.includes(hash));
  });

  test("deletion: another session's form, a wrong or a 10,000-character password change nothing; the right one schedules it; cancel undoes it", async () => {
    const { ua, citizen, id } = await signedUpCitizen();
    const form = await ua.get(`${app.url}/conta/privacidade/excluir`);
    assert.equal(form.status, 200);
    assert.match(form.html, /O que a lei manda guardar/);
    assert.match(form.html, /7 dias depois do pedido/);

    // A form built in another browser (its own CSRF cookie and token) does not act here.
    const theirs = await otherSessionToken();
    const forged = await ua.post(formAction(form, '/conta/privacidade/excluir'), {
      password: citizen.password,
      _csrf: theirs,
    });
    assert.equal(forged.status, 403);
    assert.equal(await pendingDeletion(id), undefined, 'nothing scheduled by a forged form');

    const again = await ua.get(`${app.url}/conta/privacidade/excluir`);
    const wrong = await ua.post(formAction(again, '/conta/privacidade/excluir'), {
      password: 'not the password at all 1',
    });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /Senha incorreta\. Nada foi alterado\./);
    const huge = await ua.post(formAction(wrong, '/conta/privacidade/excluir'), {
      password: 'a'.repeat(10_000),
    });
    assert.equal(huge.status, 401);
    assert.match(huge.html, /Senha incorreta\. Nada foi alterado\./);
    const empty = await ua.post(formAction(huge, '/conta/privacidade/excluir'), { password: '' });
    assert.equal(empty.status, 422);
    assert.match(empty.html, /Digite a sua senha para confirmar\./);
    assert.equal(await pendingDeletion(id), undefined, 'nothing scheduled by a wrong password');

    const done = await ua.post(formAction(empty, '/conta/privacidade/excluir'), {
      password: citizen.password,
    });
    assert.equal(done.status, 200);
    assert.match(done.url, /\/conta\/privacidade$/);
    assert.match(done.html, /A sua conta será excluída em/);
    const scheduled = await pendingDeletion(id);
    assert.ok(scheduled);
    const days = (scheduled.due_at.getTime() - scheduled.requested_at.getTime()) / 86_400_000;
    assert.equal(Math.round(days), 7);
    const mail = await smtp.waitFor(citizen.email, 60_000, (m) => /exclusão/.test(m.subject));
    assert.match(mail.text, /Desistir da exclusão/);

    // The grace period is not over: a purge run leaves the account alone.
    await app.purgeDueDeletions();
    assert.equal(
      (await app.db.db.selectFrom('citizens').select('status').where('id', '=', id).executeTakeFirstOrThrow())
        .status,
      'active',
    );

    // A cancel from another browser's form does nothing; the citizen's own does.
    const hub = await ua.get(`${app.url}/conta`);
    const forgedCancel = await ua.post(formAction(hub, '/excluir/cancelar'), {
      _csrf: await otherSessionToken(),
    });
    assert.equal(forgedCancel.status, 403);
    assert.ok(await pendingDeletion(id));
    const hubAgain = await ua.get(`${app.url}/conta`);
    const cancelled = await ua.post(formAction(hubAgain, '/excluir/cancelar'), {});
    assert.match(cancelled.url, /exclusao=cancelada/);
    assert.match(cancelled.html, /Pedido de exclusão cancelado/);
    assert.equal(await pendingDeletion(id), undefined);
  });

  test('after the grace period the purge runs every eraser and the consented service receives account-purged', async () => {
    const { svc, ua, citizen, id } = await signedUpCitizen();
    await received(svc);
    const form = await ua.get(`${app.url}/conta/privacidade/excluir`);
    await ua.post(formAction(form, '/conta/privacidade/excluir'), { password: citizen.password });
    assert.ok(await pendingDeletion(id));
    // Seven days later (the clock is the database's).
    await app.db.db
      .updateTable('account_deletions')
      .set({ due_at: new Date(Date.now() - 1000) })
      .where('citizen_id', '=', id)
      .execute();
    assert.ok((await app.purgeDueDeletions()) >= 1);
    const row = await app.db.db
      .selectFrom('citizens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'deleted');
    assert.equal(row.cpf, null);
    assert.notEqual(row.email, citizen.email);
    assert.notEqual(row.name, citizen.name);
    assert.equal(
      (await app.db.db.selectFrom('identifiers').select('id').where('citizen_id', '=', id).execute()).length,
      0,
    );
    assert.equal(
      (await app.db.db.selectFrom('credentials').select('id').where('citizen_id', '=', id).execute()).length,
      0,
    );
    assert.equal(await pendingDeletion(id), undefined);
    assert.equal(
      (await app.db.db.selectFrom('consents').select('id').where('citizen_id', '=', id).execute()).length,
      1,
      'the consent evidence is kept',
    );
    // The server's own relay may be fanning the event out at this moment: read until it is there.
    const sets: { sub: string; types: string[] }[] = [];
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      sets.push(...(await received(svc)));
      if (sets.some((s) => s.types.includes(ACCOUNT_PURGED))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(
      sets.filter((s) => s.types.includes(ACCOUNT_PURGED)).map((s) => s.sub),
      [id],
    );
    // The browser's session went with the account.
    const after = await ua.get(`${app.url}/conta`);
    assert.doesNotMatch(after.html, /Minha conta/);
    // A second run finds nothing.
    assert.equal(await app.purgeDueDeletions(), 0);
  });

  test('deletion confirmed by a code sent to the proven e-mail: a wrong code changes nothing, the right one schedules it', async () => {
    const { ua, citizen, id } = await signedUpCitizen();
    const form = await ua.get(`${app.url}/conta/privacidade/excluir`);
    assert.match(form.html, /Confirme com um código enviado ao e-mail da sua conta\./);
    const seen = smtp.inbox.length;
    const codePage = await ua.post(formAction(form, '/excluir/codigo'), {});
    assert.match(codePage.url, /\/conta\/privacidade\/excluir\/codigo$/);
    const mail = await smtp.waitFor(citizen.email, 60_000, (m) => smtp.inbox.indexOf(m) >= seen);
    const code = codeFrom(mail);
    const wrong = await ua.post(formAction(codePage, '/codigo/confirmar'), {
      code: code === '000000' ? '111111' : '000000',
    });
    assert.equal(wrong.status, 422);
    assert.equal(await pendingDeletion(id), undefined);
    const huge = await ua.post(formAction(wrong, '/codigo/confirmar'), { code: '9'.repeat(10_000) });
    assert.equal(huge.status, 422);
    assert.equal(await pendingDeletion(id), undefined);
    const done = await ua.post(formAction(huge, '/codigo/confirmar'), { code });
    assert.match(done.url, /\/conta\/privacidade$/);
    assert.equal((await pendingDeletion(id))?.confirmed_by, 'code');
  });

  test('10,000 characters in every field of /conta/dados: a message per field, nothing saved', async () => {
    const { ua, citizen, id } = await signedUpCitizen();
    const form = await ua.get(`${app.url}/conta/dados`);
    const fields = formFields(form, '/conta/dados');
    const long = 'A'.repeat(10_000);
    const bad = await ua.post(formAction(form, '/conta/dados'), {
      ...fields,
      f_name: long,
      f_social_name: long,
      f_mother_name: long,
      f_address_street_address: long,
      f_address_postal_code: long,
    });
    assert.equal(bad.status, 422);
    assert.match(bad.html, /class="errors"/);
    const summary = [
      ...bad.html
        .split('class="errors"')[1]!
        .split('</ul>')[0]!
        .matchAll(/href="#([^"]+)"/g),
    ].map((m) => m[1]);
    const inputs = [...bad.html.matchAll(/<(?:input|select)[^>]*\bid="(f_[^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(
      summary,
      inputs.filter((name) => summary.includes(name)),
      'the summary lists the errors in the order of the fields',
    );
    assert.ok(summary.length >= 4, `an error per long field: ${summary.join(', ')}`);
    const stored = await app.db.db
      .selectFrom('citizens')
      .select(['name', 'social_name', 'profile'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(stored.name, citizen.name);
    assert.equal(stored.social_name, null);
    assert.deepEqual(stored.profile, {});
  });

  test("revoking from another session's form changes nothing", async () => {
    const { svc, ua, id } = await signedUpCitizen();
    const list = await ua.get(`${app.url}/conta/servicos`);
    const confirm = await ua.get(formAction(list, `/conta/servicos/${svc.clientId}/revogar`));
    const forged = await ua.post(formAction(confirm, '/revogar'), { _csrf: await otherSessionToken() });
    assert.equal(forged.status, 403);
    assert.ok(
      await app.db.db
        .selectFrom('consent_current')
        .select('client_id')
        .where('citizen_id', '=', id)
        .where('client_id', '=', svc.clientId)
        .executeTakeFirst(),
    );
  });
});
