import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createAccountActions } from '../../src/personal-data.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

type Tokens = Awaited<ReturnType<typeof exchange>>;

/**
 * The storage port (oidc/provider-state.ts) is how disabling an account, revoking a consent and
 * removing a service reach what the provider stores; here each is seen as a service sees it.
 */
describe('the provider storage port: what the domain ends, a service can no longer use', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let school: TestService;
  let health: TestService;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    school = await addService(app);
    health = await addService(app);
  });
  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  /** A new citizen signed in at both services, with the tokens each received. */
  async function signedInAtBoth() {
    const ua = new UserAgent();
    const first = await authorizationRequest(school);
    const { page } = await registerThroughService(ua, school, first, smtp);
    const atSchool = await exchange(school, first, (await answerConsent(ua, page, school)).url);
    const second = await authorizationRequest(health);
    const consentPage = await ua.get(second.url.href, health.redirectUri);
    const atHealth = await exchange(health, second, (await answerConsent(ua, consentPage, health)).url);
    return { ua, sub: atSchool.claims()!.sub, atSchool, atHealth };
  }

  const refused = (svc: TestService, tokens: Tokens) =>
    assert.rejects(
      client.refreshTokenGrant(svc.config, tokens.refresh_token!),
      (e: { error?: string }) => e.error === 'invalid_grant',
    );

  test("the provider's rows carry their account and service in columns", async () => {
    const { sub } = await signedInAtBoth();
    const rows = await app.db.db
      .selectFrom('oidc_payloads')
      .select(['model', 'client_id'])
      .where('account_id', '=', sub)
      .execute();
    const models = new Set(rows.map((r) => r.model));
    for (const model of ['Session', 'Grant', 'AccessToken', 'RefreshToken'])
      assert.ok(models.has(model), `${model} is found by its account`);
    assert.deepEqual(
      [...new Set(rows.filter((r) => r.model === 'Grant').map((r) => r.client_id))].sort(),
      [school.clientId, health.clientId].sort(),
    );
  });

  test('revoking one consent ends that service’s tokens only', async () => {
    const { ua, atSchool, atHealth } = await signedInAtBoth();
    const account = await ua.get(`${app.url}/conta/servicos`);
    assert.equal(account.status, 200);
    const confirm = await ua.get(formAction(account, `/conta/servicos/${school.clientId}/revogar`));
    await ua.post(formAction(confirm, `/conta/servicos/${school.clientId}/revogar`), {});
    await refused(school, atSchool);
    const renewed = await client.refreshTokenGrant(health.config, atHealth.refresh_token!);
    assert.ok(renewed.access_token, 'the other service still renews its tokens');
  });

  test('disabling the account ends its session and every token at once', async () => {
    const { ua, sub, atSchool, atHealth } = await signedInAtBoth();
    assert.equal(await createAccountActions(app.db.db).disable(sub), 'done');
    await refused(school, atSchool);
    await refused(health, atHealth);
    await assert.rejects(
      client.fetchUserInfo(health.config, atHealth.access_token, sub),
      (e: { error?: string; status?: number }) => e.error === 'invalid_token' || e.status === 401,
    );
    // Back at a service, the browser's session is gone: the login page, not a silent sign-in.
    const again = await authorizationRequest(school);
    const page = await ua.get(again.url.href, school.redirectUri);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="password"/);
    assert.deepEqual(
      await app.db.db.selectFrom('oidc_payloads').select('model').where('account_id', '=', sub).execute(),
      [],
    );
  });

  test('removing a service forgets what the provider held for it, and nothing else', async () => {
    const gone = await addService(app);
    const ua = new UserAgent();
    const auth = await authorizationRequest(gone);
    const { page } = await registerThroughService(ua, gone, auth, smtp);
    const tokens = await exchange(gone, auth, (await answerConsent(ua, page, gone)).url);
    const sub = tokens.claims()!.sub;
    await createServiceStore(app.db.db, { provider: createProviderState() }).remove(gone.clientId);
    assert.deepEqual(
      await app.db.db
        .selectFrom('oidc_payloads')
        .select('model')
        .where('client_id', '=', gone.clientId)
        .execute(),
      [],
    );
    const session = await app.db.db
      .selectFrom('oidc_payloads')
      .select('model')
      .where('account_id', '=', sub)
      .where('model', '=', 'Session')
      .execute();
    assert.equal(session.length, 1, 'the citizen stays signed in to the city');
  });
});
