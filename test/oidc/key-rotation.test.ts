import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { loadSigningKeys, rotateSigningKeys, signingKeysVersion } from '../../src/oidc/keys.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, type TestService, UserAgent } from '../helpers/journeys.ts';
import { childEnv, createSharedDatabase, killChildren, runCli, type SharedDatabase } from '../helpers/processes.ts';
import { freePort, startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { formAction } from '../helpers/user-agent.ts';

type Citizen = Awaited<ReturnType<typeof seedCitizen>>;

function kidOf(jwt: string): { kid: string; alg: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString());
}

async function publishedKids(app: TestApp): Promise<string[]> {
  const jwks = (await (await fetch(`${app.url}/oidc/jwks`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((k) => k.kid);
}

/** A sign-in at `svc` (password and consent only if asked); the ID token's header, validated by openid-client. */
async function signIn(ua: UserAgent, svc: TestService, citizen: Citizen) {
  const auth = await authorizationRequest(svc);
  let page = await ua.get(auth.url.href, svc.redirectUri);
  if (page.html.includes('name="password"')) {
    page = await ua.post(formAction(page, '/login'), { identifier: citizen.email, password: citizen.password }, svc.redirectUri);
  }
  if (page.status !== 303) page = await answerConsent(ua, page, svc);
  const tokens = await exchange(svc, auth, page.url);
  return kidOf(tokens.id_token!);
}

describe('which signing keys sign and which are only published', () => {
  let database: TestDatabase;
  const secrets = createSecrets(TEST_SECRET);

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  const signer = (keys: { alg: string; kid: string }[]) => keys.find((k) => k.alg === 'ES256')!.kid;

  test('rotated keys are published at once and sign only once older than signAfterSeconds', async () => {
    const { db } = database;
    const first = await loadSigningKeys(db, secrets, { signAfterSeconds: 120 });
    assert.deepEqual(first.map((k) => k.alg).sort(), ['ES256', 'RS256'], 'a new installation gets one key pair and signs with it at once');
    const before = await signingKeysVersion(db, { signAfterSeconds: 120 });

    const [newEs] = await rotateSigningKeys(db, secrets);
    const rotated = await loadSigningKeys(db, secrets, { signAfterSeconds: 120 });
    assert.equal(rotated.length, 4, 'old and new keys are all published');
    assert.equal(signer(rotated), signer(first), 'the retired key signs until the new one is old enough');
    assert.notEqual(await signingKeysVersion(db, { signAfterSeconds: 120 }), before, 'a poll sees the rotation');
    assert.equal(signer(await loadSigningKeys(db, secrets, { signAfterSeconds: 0 })), newEs, 'without a delay the new key signs at once');

    const young = await signingKeysVersion(db, { signAfterSeconds: 120 });
    await db.updateTable('signing_keys').set({ created_at: sql<Date>`now() - interval '5 minutes'` }).where('retired_at', 'is', null).execute();
    assert.notEqual(await signingKeysVersion(db, { signAfterSeconds: 120 }), young, 'a poll sees the new key come of age');
    assert.equal(signer(await loadSigningKeys(db, secrets, { signAfterSeconds: 120 })), newEs);

    await db.updateTable('signing_keys').set({ retired_at: sql<Date>`now() - interval '25 hours'` }).where('kid', '=', signer(first)).execute();
    const later = await loadSigningKeys(db, secrets, { signAfterSeconds: 120 });
    assert.ok(!later.some((k) => k.kid === signer(first)), 'a key retired more than a day ago is no longer published');
  });
});

describe('cidadela keys rotate, with running servers', () => {
  let shared: SharedDatabase;
  let app: TestApp | undefined;
  let handle: Awaited<ReturnType<SharedDatabase['open']>> | undefined;
  let port: number;
  let svc: TestService;
  let citizen: Citizen;
  const ua = new UserAgent();

  before(async () => {
    shared = await createSharedDatabase();
    port = await freePort();
  });

  after(async () => {
    await killChildren();
    await app?.stop();
    await handle?.close();
    await shared?.drop();
  });

  const env = (reloadSeconds: number) => ({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    KEYS_RELOAD_SECONDS: String(reloadSeconds),
    DEMO: 'off',
  });

  async function start(reloadSeconds: number) {
    handle = await shared.open();
    app = await startTestApp(env(reloadSeconds), handle);
  }

  async function stop() {
    await app?.stop();
    await handle?.close();
    app = undefined;
    handle = undefined;
  }

  async function rotateWithCli(): Promise<[string, string]> {
    const result = await runCli(['keys', 'rotate'], childEnv({ ...shared.env, KEYS_RELOAD_SECONDS: '0' }));
    assert.equal(result.code, 0, result.stderr);
    const kids = result.stdout.match(/new signing keys: (\S+), (\S+)/);
    assert.ok(kids, result.stdout);
    assert.match(result.stdout, /restart the servers/);
    return [kids[1]!, kids[2]!];
  }

  test('after the CLI rotates and the server restarts, ID tokens carry the new kid; the old kid stays in the JWKS', async () => {
    await start(0);
    svc = await addService(app!);
    citizen = await seedCitizen(app!.db.db);
    const before = await signIn(ua, svc, citizen);
    assert.equal(before.alg, 'ES256');
    assert.ok((await publishedKids(app!)).includes(before.kid));

    // On the embedded database the command goes through the running server (src/cli/command-socket.ts).
    const [newEs, newRs] = await rotateWithCli();
    // Without reloading (KEYS_RELOAD_SECONDS=0) a running server goes on as it started.
    assert.equal((await signIn(ua, svc, citizen)).kid, before.kid);
    await stop();
    await start(0);
    const after = await signIn(ua, svc, citizen);
    assert.equal(after.kid, newEs, 'signed with the new ES256 key');
    const kids = await publishedKids(app!);
    for (const kid of [before.kid, newEs, newRs]) assert.ok(kids.includes(kid), `${kid} is in the JWKS`);
    await stop();
  });

  test('a running server picks rotated keys up without a restart; a sign-in begun before finishes after', async () => {
    await start(1);
    const before = await signIn(ua, svc, citizen);
    // Someone is on the login page when the keys change.
    const other = await seedCitizen(handle!.db);
    const midway = new UserAgent();
    const pending = await authorizationRequest(svc);
    const loginPage = await midway.get(pending.url.href, svc.redirectUri);
    assert.match(loginPage.html, /name="password"/);

    const rotated = shared.kind === 'postgres' ? await rotateWithCli() : await rotateSigningKeys(handle!.db, createSecrets(TEST_SECRET));
    const newEs = rotated[0]!;
    let kid = before.kid;
    for (let i = 0; i < 60 && kid !== newEs; i++) {
      await new Promise((r) => setTimeout(r, 500));
      kid = (await signIn(ua, svc, citizen)).kid;
    }
    assert.equal(kid, newEs, 'within 30 s the running server signs with the new key');
    const kids = await publishedKids(app!);
    assert.ok(kids.includes(before.kid) && kids.includes(newEs), 'both the old and the new key are published');
    assert.ok(app!.logs.some((l) => l.includes('signing keys changed')), 'the reload is logged');

    const consent = await midway.post(formAction(loginPage, '/login'), { identifier: other.email, password: other.password }, svc.redirectUri);
    const callback = await answerConsent(midway, consent, svc);
    const tokens = await exchange(svc, pending, callback.url);
    assert.equal(kidOf(tokens.id_token!).kid, newEs);
  });
});
