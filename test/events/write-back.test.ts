import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { CLAIMS_CHANGE, CONSENT_GRANTED } from '../../src/events/set-format.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { decode } from './event-helpers.ts';

const ADDRESS_FORM = {
  f_address_postal_code: '80010-000',
  f_address_street_address: 'Rua XV de Novembro',
  f_address_number: '100',
  f_address_locality: 'Curitiba',
  f_address_region: 'PR',
  f_address_country: 'BR',
};
const NEW_ADDRESS = {
  street_address: 'Avenida Sete de Setembro',
  number: '2500',
  neighbourhood: 'Rebouças',
  locality: 'Curitiba',
  region: 'PR',
  postal_code: '80230085',
  country: 'BR',
};

describe('write-back from a service reaches every other service; bad input changes and emits nothing', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let writer: TestService; // name, email, cpf, address; asks cidadela:write
  let reader: TestService; // name, email, address; polls its events
  let outsider: TestService; // birthdate only; asks cidadela:write
  let writerToken: string;
  let readerToken: string;
  let outsiderToken: string;
  let sub: string;
  const ua = new UserAgent();

  const basic = (svc: TestService) =>
    `Basic ${Buffer.from(`${encodeURIComponent(svc.clientId)}:${encodeURIComponent(svc.clientSecret)}`).toString('base64')}`;
  const poll = async (svc: TestService, body: Record<string, unknown> = {}, auth = basic(svc)) => {
    const res = await fetch(`${app.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ returnImmediately: true, ...body }),
    });
    return {
      status: res.status,
      body: (await res.json()) as { sets: Record<string, string>; moreAvailable: boolean; err?: string },
    };
  };
  /** Everything pending for the service, acknowledged. */
  const takeAll = async (svc: TestService) => {
    await app.events.relay.runOnce();
    const { body } = await poll(svc, { maxEvents: 1000 });
    if (Object.keys(body.sets).length) await poll(svc, { ack: Object.keys(body.sets), maxEvents: 0 });
    return Object.values(body.sets);
  };
  const patch = (token: string | undefined, body: unknown, contentType = 'application/json') =>
    fetch(`${app.url}/api/v1/me`, {
      method: 'PATCH',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const eventCount = async () =>
    Number(
      (
        await app.db.db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('citizen_id', '=', sub)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const citizenRow = () =>
    app.db.db.selectFrom('citizens').selectAll().where('id', '=', sub).executeTakeFirstOrThrow();

  async function signIn(svc: TestService, scope: string, typed: Record<string, string> = {}) {
    const auth = await authorizationRequest(svc, { scope });
    let page = await ua.get(auth.url.href, svc.redirectUri);
    if (page.status === 200) page = await answerConsent(ua, page, svc, true, typed);
    return exchange(svc, auth, page.url);
  }

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, RELAY: 'off' });
    const contract = (keys: string[]) =>
      keys.map((key) => ({ key, required: true, purpose: `para o teste (${key})` }));
    writer = await addService(app, {
      name: 'Matrícula',
      fields: contract(['name', 'email', 'cpf', 'address']),
    });
    reader = await addService(app, { name: 'Saúde', fields: contract(['name', 'email', 'address']) });
    outsider = await addService(app, { name: 'Tributos', fields: contract(['birthdate']) });

    const auth = await authorizationRequest(writer, { scope: 'openid profile email cpf cidadela:write' });
    const { page } = await registerThroughService(ua, writer, auth, smtp, newCitizen(ADDRESS_FORM));
    const callback = await answerConsent(ua, page, writer);
    const tokens = await exchange(writer, auth, callback.url);
    writerToken = tokens.access_token;
    sub = tokens.claims()!.sub;
    assert.ok(
      String(tokens.scope).split(' ').includes('cidadela:write'),
      'the consent granted the write scope',
    );
    readerToken = (await signIn(reader, 'openid profile email')).access_token;
    outsiderToken = (await signIn(outsider, 'openid cidadela:write')).access_token;
    await takeAll(writer);
    await takeAll(reader);
    await takeAll(outsider);
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  test('a service writes a new address back: the other service receives it, the writer gets no echo', async () => {
    const res = await patch(writerToken, { address: NEW_ADDRESS });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.updated, ['address']);
    assert.equal(body.claims.address.postal_code, '80230-085', 'normalised by the catalog');
    const sets = await takeAll(reader);
    assert.equal(sets.length, 1);
    const jwks = createRemoteJWKSet(new URL(`${app.url}/oidc/jwks`));
    const { payload } = await jwtVerify(sets[0]!, jwks, {
      issuer: app.url,
      audience: reader.clientId,
      typ: 'secevent+jwt',
    });
    assert.equal(payload.sub, sub);
    const claims = (payload.events as Record<string, { claims: Record<string, any> }>)[CLAIMS_CHANGE]!.claims;
    assert.deepEqual(Object.keys(claims), ['address']);
    assert.equal(claims.address.street_address, 'Avenida Sete de Setembro');
    assert.deepEqual(await takeAll(writer), [], 'no echo to the service that wrote it');
    assert.deepEqual(await takeAll(outsider), [], 'not in its contract');
  });

  test('saving what is already stored changes nothing and tells no service (write-back and /conta/dados)', async () => {
    const events = await eventCount();
    // The address as stored, in the order a service would send it (PostgreSQL keeps jsonb keys in its own order).
    const same = await patch(writerToken, { address: NEW_ADDRESS });
    assert.equal(same.status, 200);
    assert.deepEqual((await same.json()).updated, [], 'the current address is not an update');
    const nameOnly = await patch(writerToken, { name: 'Nome Regravado da Silva', address: NEW_ADDRESS });
    assert.equal(nameOnly.status, 200);
    assert.deepEqual((await nameOnly.json()).updated, ['name']);
    let sets = await takeAll(reader);
    assert.equal(sets.length, 1);
    assert.deepEqual(decode(sets[0]!).events[CLAIMS_CHANGE].claims, { name: 'Nome Regravado da Silva' });

    // The citizen saves their data page without touching anything: no event.
    const before = await eventCount();
    let form = await ua.get(`${app.url}/conta/dados`);
    assert.equal(formFields(form, '/conta/dados').f_address_street_address, NEW_ADDRESS.street_address);
    const saved = await ua.post(formAction(form, '/conta/dados'), formFields(form, '/conta/dados'));
    assert.match(saved.html, /Dados salvos/);
    assert.equal(await eventCount(), before, 'an unchanged save emits nothing');
    // Only the name changed: the services learn the name, not the address again.
    form = await ua.get(`${app.url}/conta/dados`);
    await ua.post(formAction(form, '/conta/dados'), { ...formFields(form, '/conta/dados'), f_name: 'Nome Pela Conta Silva' });
    sets = await takeAll(reader);
    assert.equal(sets.length, 1);
    assert.deepEqual(decode(sets[0]!).events[CLAIMS_CHANGE].claims, { name: 'Nome Pela Conta Silva' });
    assert.equal(await eventCount(), events + 2);
  });

  // Review finding 2: a write-back of `email` replaced the address the next login sends its code
  // to, with no proof: whoever held the service's token could lock the citizen out. Now a service
  // only proposes it; the citizen's code makes it theirs.
  test('a service proposes a new e-mail: nothing changes until the citizen proves it with the code', async () => {
    const before = await citizenRow();
    const email = `novo.${Date.now()}@example.test`;
    const res = await patch(writerToken, { email });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.deepEqual(body.updated, []);
    assert.deepEqual(body.pending_confirmation, ['email']);
    const held = await citizenRow();
    assert.equal(held.email, before.email, 'the login address stays');
    assert.equal(held.email_verified, true, 'and stays verified');
    assert.deepEqual(await takeAll(reader), [], 'the services are told nothing yet');
    const mail = await smtp.waitFor(email);
    const confirm = await ua.get(`${app.url}/conta/email/confirmar`);
    assert.equal(confirm.status, 200);
    const done = await ua.post(formAction(confirm, '/conta/email/confirmar'), { code: codeFrom(mail) });
    assert.match(done.url, /\/conta\/dados\?salvo=email$/);
    const after = await citizenRow();
    assert.equal(after.email, email);
    assert.equal(after.email_verified, true);
    const told = (await takeAll(reader)).map((t) => decode(t).events[CLAIMS_CHANGE]?.claims).filter(Boolean);
    assert.deepEqual(told.at(-1), { email, email_verified: true });
  });

  test('bad write-back input: a clear 4xx, nothing changed, nothing emitted', async () => {
    const events = await eventCount();
    const row = await citizenRow();
    const cases: [string, Promise<Response>, number, (b: any) => void][] = [
      [
        'an invalid CEP',
        patch(writerToken, { address: { ...NEW_ADDRESS, postal_code: '123' } }),
        400,
        (b) => {
          assert.equal(b.error, 'write_back.invalid');
          assert.equal(b.fields.address.inputs.f_address_postal_code, 'field.address.postal_code.invalid');
        },
      ],
      [
        'a valid field with an invalid one (all or nothing)',
        patch(writerToken, { name: 'Outro Nome Qualquer', address: { ...NEW_ADDRESS, region: 'XX' } }),
        400,
        (b) => assert.equal(b.error, 'write_back.invalid'),
      ],
      [
        'a field outside the contract',
        patch(writerToken, { mother_name: 'Ana Maria Souza' }),
        403,
        (b) => assert.deepEqual(b.fields, { mother_name: 'field.not_in_contract' }),
      ],
      [
        'a field the citizen cannot edit',
        patch(writerToken, { cpf: '52998224725' }),
        403,
        (b) => assert.deepEqual(b.fields, { cpf: 'field.not_editable' }),
      ],
      [
        'a field the catalog does not know',
        patch(writerToken, { shoe_size: '42' }),
        400,
        (b) => assert.equal(b.fields.shoe_size.error, 'field.unknown'),
      ],
      [
        'a number where text is expected',
        patch(writerToken, { name: 42 }),
        400,
        (b) => assert.equal(b.fields.name.error, 'field.name.invalid'),
      ],
      ['an empty body', patch(writerToken, {}), 400, (b) => assert.equal(b.error, 'body.empty')],
      ['an array', patch(writerToken, [1, 2]), 400, (b) => assert.equal(b.error, 'body.invalid')],
      ['a 1 MB body', patch(writerToken, { name: 'x'.repeat(1024 * 1024) }), 413, () => {}],
      [
        'a form instead of JSON',
        patch(writerToken, 'name=Outro+Nome', 'application/x-www-form-urlencoded'),
        415,
        () => {},
      ],
      [
        'no token',
        patch(undefined, { name: 'Outro Nome Qualquer' }),
        401,
        (b) => assert.equal(b.error, 'invalid_token'),
      ],
      [
        'a made-up token',
        patch('not-a-real-access-token-0123456789', { name: 'Outro Nome Qualquer' }),
        401,
        (b) => assert.equal(b.error, 'invalid_token'),
      ],
      [
        'a token without the write scope',
        patch(readerToken, { name: 'Outro Nome Qualquer' }),
        403,
        (b) => assert.equal(b.error, 'insufficient_scope'),
      ],
      [
        'a token of another service, whose contract lacks the field',
        patch(outsiderToken, { address: NEW_ADDRESS }),
        403,
        (b) => assert.deepEqual(b.fields, { address: 'field.not_in_contract' }),
      ],
    ];
    for (const [what, response, status, check] of cases) {
      const res = await response;
      assert.equal(res.status, status, what);
      check(await res.json().catch(() => ({})));
    }
    assert.equal(await eventCount(), events, 'nothing emitted');
    const now = await citizenRow();
    assert.deepEqual({ ...now, updated_at: null }, { ...row, updated_at: null }, 'nothing changed');
    assert.deepEqual(await takeAll(reader), []);
  });

  test('poll (RFC 8936): client credentials, maxEvents, moreAvailable, ack, setErrs', async () => {
    assert.equal(
      (await poll(reader, {}, `Basic ${Buffer.from(`${reader.clientId}:wrong`).toString('base64')}`)).status,
      401,
    );
    assert.equal(
      (
        await poll(
          reader,
          {},
          `Basic ${Buffer.from(`${writer.clientId}:${reader.clientSecret}`).toString('base64')}`,
        )
      ).status,
      401,
    );
    assert.equal((await poll(reader, { maxEvents: 'all' })).status, 400);
    for (const name of ['Primeira Mudança Silva', 'Segunda Mudança Silva', 'Terceira Mudança Silva']) {
      assert.equal((await patch(writerToken, { name })).status, 200);
    }
    await app.events.relay.runOnce();
    const first = await poll(reader, { maxEvents: 2 });
    assert.equal(first.status, 200);
    assert.equal(Object.keys(first.body.sets).length, 2);
    assert.equal(first.body.moreAvailable, true);
    const names = (sets: Record<string, string>) =>
      Object.values(sets).map((t) => decode(t).events[CLAIMS_CHANGE].claims.name);
    assert.deepEqual(
      names(first.body.sets),
      ['Primeira Mudança Silva', 'Segunda Mudança Silva'],
      'oldest first',
    );
    // Not acknowledged: the same SETs come again.
    const again = await poll(reader, { maxEvents: 2 });
    assert.deepEqual(Object.keys(again.body.sets), Object.keys(first.body.sets));
    const [okJti, badJti] = Object.keys(first.body.sets) as [string, string];
    const next = await poll(reader, {
      ack: [okJti],
      setErrs: { [badJti]: { err: 'invalid_request', description: 'could not apply' } },
      maxEvents: 5,
    });
    assert.deepEqual(names(next.body.sets), ['Terceira Mudança Silva']);
    assert.equal(next.body.moreAvailable, false);
    const view = await (
      await fetch(`${app.url}/admin/api/services/${reader.clientId}/queue`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      })
    ).json();
    assert.equal(view.queue.depth, 1);
    assert.equal(view.queue.failedDeliveries, 1);
    await poll(reader, { ack: Object.keys(next.body.sets), maxEvents: 0 });
  });

  test('long polling waits for the next event and returns it', async () => {
    const waiting = fetch(`${app.url}/api/v1/events`, {
      method: 'POST',
      headers: { authorization: basic(reader), 'content-type': 'application/json' },
      body: JSON.stringify({ maxEvents: 10 }),
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await patch(writerToken, { name: 'Quarta Mudança Silva' })).status, 200);
    await app.events.relay.runOnce();
    const body = (await (await waiting).json()) as { sets: Record<string, string> };
    assert.deepEqual(
      Object.values(body.sets).map((t) => decode(t).events[CLAIMS_CHANGE].claims.name),
      ['Quarta Mudança Silva'],
    );
    await poll(reader, { ack: Object.keys(body.sets), maxEvents: 0 });
  });

  test('a service that receives by AMQP or push cannot poll; the operator sets the method', async () => {
    const put = await fetch(`${app.url}/admin/api/services/${outsider.clientId}/delivery`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'push', pushUrl: 'http://example.test/events' }),
    });
    assert.equal(put.status, 400, 'plain http only on loopback');
    const ok = await fetch(`${app.url}/admin/api/services/${outsider.clientId}/delivery`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'amqp' }),
    });
    assert.equal(ok.status, 200);
    const refused = await poll(outsider);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.err, 'invalid_request');
  });

  test('consent granted reaches the service itself, with what is shared', async () => {
    const fresh = await addService(app, {
      name: 'Biblioteca',
      fields: [{ key: 'name', required: true, purpose: 'para o cartão' }],
    });
    await signIn(fresh, 'openid profile');
    const sets = await takeAll(fresh);
    assert.equal(sets.length, 1);
    assert.deepEqual(decode(sets[0]!).events[CONSENT_GRANTED].fields_shared, ['name']);
    assert.deepEqual(
      await takeAll(reader),
      [],
      'other services do not learn where else the citizen has an account',
    );
  });

  test('the operator’s queue API: view, replay, resume; broker credentials explained without the management API', async () => {
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${app.url}/admin/api/services/${reader.clientId}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
          ...(init.headers ?? {}),
        },
      });
    assert.equal((await fetch(`${app.url}/admin/api/services/${reader.clientId}/queue`)).status, 401);
    const view = (await (await admin('/queue')).json()).queue;
    assert.equal(view.depth, 0);
    assert.equal(view.method, 'poll');
    assert.ok(view.lastDeliveryAt, 'the last acknowledged poll counts as a delivery');
    assert.equal(
      (await admin('/queue/replay', { method: 'POST', body: JSON.stringify({ since: 'last week' }) })).status,
      400,
    );
    const replay = await (
      await admin('/queue/replay', {
        method: 'POST',
        body: JSON.stringify({ since: new Date(Date.now() - 3_600_000).toISOString() }),
      })
    ).json();
    assert.ok(replay.replayed >= 5, `replayed ${replay.replayed}`);
    assert.equal(replay.queue.depth, replay.replayed);
    const again = await poll(reader, { maxEvents: 1000 });
    assert.equal(Object.keys(again.body.sets).length, replay.replayed, 'delivered again');
    await poll(reader, { ack: Object.keys(again.body.sets), maxEvents: 0 });
    const resume = await (await admin('/queue/resume', { method: 'POST', body: '{}' })).json();
    assert.equal(resume.resumed, false, 'it was not paused');
    const credentials = await admin('/broker-credentials', { method: 'POST', body: '{}' });
    assert.equal(credentials.status, 409);
    assert.match((await credentials.json()).instructions, /rabbitmqctl set_permissions -p '\/' 'cidadela\./);
    assert.equal(
      (
        await fetch(`${app.url}/admin/api/services/nope/queue`, {
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        })
      ).status,
      404,
    );
  });
});
