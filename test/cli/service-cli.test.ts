import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { Db } from '../../src/db/database.ts';
import { hashClientSecret } from '../../src/services/service-store.ts';
import { CLI_MODES, type Cli, startCli } from '../helpers/cli.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

/**
 * `cidadela service ...` as operators use it, with no server running and through a running server
 * (test/helpers/cli.ts), on a real database. The token endpoint of a server on the same database is
 * the judge of which secret works.
 */
for (const { mode, title } of CLI_MODES) describe(`cidadela service (${title})`, () => {
  let database: TestDatabase;
  let running: TestApp;
  let commands: Awaited<ReturnType<typeof startCli>>;
  const files = mkdtempSync(join(tmpdir(), 'cidadela-cli-files-'));

  before(async () => {
    database = await createTestDatabase();
    running = await startTestApp({ DEMO: 'off' }, database);
    commands = await startCli(mode, database.db);
  });

  after(async () => {
    await commands?.close();
    await running?.stop();
    await database?.drop();
    rmSync(files, { recursive: true, force: true });
  });

  const cli: Cli = (...args) => commands.cli('service', ...args);
  const withServer = <T>(fn: (app: TestApp) => Promise<T>): Promise<T> => fn(running);
  const withDb = <T>(fn: (db: Db) => Promise<T>): Promise<T> => fn(database.db);

  /** How the token endpoint treats a client: authenticated (the bogus grant is then refused) or not. */
  async function tokenEndpointSays(app: TestApp, clientId: string, secret: string): Promise<string> {
    const config = await client.discovery(new URL(app.url), clientId, secret, undefined, { execute: [client.allowInsecureRequests] });
    try {
      await client.refreshTokenGrant(config, 'not-a-refresh-token');
      return 'accepted';
    } catch (error) {
      return String((error as { error?: string }).error ?? (error as Error).message);
    }
  }

  let textId: string;
  let textSecret: string;

  test('add prints the client id and the secret, once, and stores only a hash of the secret', async () => {
    const added = await cli('add', '--name', 'Matrícula escolar', '--redirect-uri', 'https://matricula.example/callback');
    assert.equal(added.code, 0, added.stderr);
    textId = added.stdout.match(/client_id:\s+(\S+)/)?.[1] ?? '';
    textSecret = added.stdout.match(/client_secret:\s+(\S+)/)?.[1] ?? '';
    assert.match(textId, /^svc-[a-z0-9-]+$/);
    assert.ok(textSecret.length >= 40, `a long random secret, got "${textSecret}"`);
    assert.match(added.stdout, /shown only now/);

    const row = await withDb((db) => db.selectFrom('services').selectAll().where('client_id', '=', textId).executeTakeFirstOrThrow());
    assert.equal(row.client_secret_hash, hashClientSecret(textSecret));
    assert.ok(!JSON.stringify(row).includes(textSecret), 'the secret itself is in no column');

    const shown = await cli('show', textId);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /Matrícula escolar/);
    assert.ok(!shown.stdout.includes(textSecret), 'show never prints the secret');
  });

  let jsonId: string;
  let jsonSecret: string;

  test('add --json prints parseable JSON with every setting given', async () => {
    const terms = join(files, 'termos.md');
    writeFileSync(terms, '# Termos da Saúde\n\nSeus dados ficam na cidade.\n');
    const added = await cli(
      'add',
      '--json',
      '--name',
      'Saúde',
      '--client-id',
      'saude-municipal',
      '--description',
      'Agendamento de consultas',
      '--redirect-uri',
      'https://saude.example/cb',
      '--redirect-uri',
      'http://127.0.0.1:8080/cb',
      '--post-logout-redirect-uri',
      'https://saude.example/',
      '--auth',
      'client_secret_post',
      '--terms-file',
      terms,
    );
    assert.equal(added.code, 0, added.stderr);
    const body = JSON.parse(added.stdout);
    jsonId = body.service.clientId;
    jsonSecret = body.clientSecret;
    assert.equal(jsonId, 'saude-municipal');
    assert.equal(typeof jsonSecret, 'string');
    assert.deepEqual(body.service.redirectUris, ['https://saude.example/cb', 'http://127.0.0.1:8080/cb']);
    assert.deepEqual(body.service.postLogoutRedirectUris, ['https://saude.example/']);
    assert.equal(body.service.tokenEndpointAuthMethod, 'client_secret_post');
    assert.equal(body.service.description, 'Agendamento de consultas');
    assert.match(body.service.termsMarkdown, /Termos da Saúde/);

    const again = await cli('add', '--name', 'Outra', '--client-id', 'saude-municipal', '--redirect-uri', 'https://x.example/cb');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  test('list shows every service, as text and as JSON, without secrets', async () => {
    const text = await cli('list');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${textId}\\tMatrícula escolar`));
    assert.match(text.stdout, /saude-municipal\tSaúde/);
    const json = await cli('list', '--json');
    const ids = (JSON.parse(json.stdout).services as { clientId: string }[]).map((s) => s.clientId);
    assert.ok(ids.includes(textId) && ids.includes(jsonId), ids.join(', '));
    for (const out of [text.stdout, json.stdout]) {
      assert.ok(!out.includes(textSecret) && !out.includes(jsonSecret));
      assert.doesNotMatch(out, /sha256:/);
    }
  });

  test('the secrets printed work at the token endpoint, each with its authentication method', async () => {
    await withServer(async (app) => {
      assert.equal(await tokenEndpointSays(app, textId, textSecret), 'invalid_grant');
      const post = await client.discovery(new URL(app.url), jsonId, jsonSecret, client.ClientSecretPost(jsonSecret), {
        execute: [client.allowInsecureRequests],
      });
      await assert.rejects(client.refreshTokenGrant(post, 'not-a-refresh-token'), (e: { error?: string }) => e.error === 'invalid_grant');
      assert.equal(await tokenEndpointSays(app, textId, jsonSecret), 'invalid_client');
    });
  });

  test('show --json and update change what was asked and nothing else', async () => {
    const updated = await cli('update', jsonId, '--name', 'Saúde da Família', '--redirect-uri', 'https://saude.example/novo-cb', '--json');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(JSON.parse(updated.stdout).service.name, 'Saúde da Família');
    const shown = JSON.parse((await cli('show', jsonId, '--json')).stdout).service;
    assert.equal(shown.name, 'Saúde da Família');
    assert.deepEqual(shown.redirectUris, ['https://saude.example/novo-cb']);
    assert.equal(shown.description, 'Agendamento de consultas');
    assert.deepEqual(shown.postLogoutRedirectUris, ['https://saude.example/']);
    assert.equal(shown.tokenEndpointAuthMethod, 'client_secret_post');

    const bad = await cli('update', jsonId, '--redirect-uri', 'http://saude.example/cb');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--redirect-uri http:\/\/saude\.example\/cb: must be an absolute https URI/);
    const after = JSON.parse((await cli('show', jsonId, '--json')).stdout).service;
    assert.deepEqual(after.redirectUris, ['https://saude.example/novo-cb'], 'a refused update changes nothing');
  });

  test('rotate-secret: the old secret stops working at the token endpoint, the new one works', async () => {
    const rotated = await cli('rotate-secret', textId, '--json');
    assert.equal(rotated.code, 0, rotated.stderr);
    const { clientId, clientSecret } = JSON.parse(rotated.stdout);
    assert.equal(clientId, textId);
    assert.notEqual(clientSecret, textSecret);
    await withServer(async (app) => {
      assert.equal(await tokenEndpointSays(app, textId, textSecret), 'invalid_client');
      assert.equal(await tokenEndpointSays(app, textId, clientSecret), 'invalid_grant');
    });
    const row = await withDb((db) => db.selectFrom('services').selectAll().where('client_id', '=', textId).executeTakeFirstOrThrow());
    assert.equal(row.client_secret_hash, hashClientSecret(clientSecret));
    assert.ok(!JSON.stringify(row).includes(clientSecret));
    textSecret = clientSecret;

    const text = await cli('rotate-secret', jsonId);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /new client_secret for saude-municipal: \S{40,}/);
  });

  test('a service with its own keys (private_key_jwt) gets no secret, and cannot rotate one', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwks = join(files, 'jwks.json');
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), use: 'sig', kid: 'k1' }] }));
    const added = await cli('add', '--json', '--name', 'Tributos', '--redirect-uri', 'https://tributos.example/cb', '--auth', 'private_key_jwt', '--jwks-file', jwks);
    assert.equal(added.code, 0, added.stderr);
    const body = JSON.parse(added.stdout);
    assert.equal(body.clientSecret, null);
    assert.equal(body.service.jwks.keys[0].kid, 'k1');
    const rotate = await cli('rotate-secret', body.service.clientId);
    assert.equal(rotate.code, 1);
    assert.match(rotate.stderr, /has no secret/);
    const row = await withDb((db) => db.selectFrom('services').select('client_secret_hash').where('client_id', '=', body.service.clientId).executeTakeFirstOrThrow());
    assert.equal(row.client_secret_hash, null);
  });

  const refused: [string, string[], RegExp][] = [
    ['a redirect URI with a fragment', ['--name', 'Recusado 1', '--redirect-uri', 'https://x.example/cb#frag'], /--redirect-uri https:\/\/x\.example\/cb#frag: .*without a fragment/],
    ['plain http on a non-loopback host', ['--name', 'Recusado 2', '--redirect-uri', 'http://x.example/cb'], /--redirect-uri http:\/\/x\.example\/cb: .*https/],
    ['an unknown --auth', ['--name', 'Recusado 3', '--redirect-uri', 'https://x.example/cb', '--auth', 'client_secret_jwt'], /--auth: .*client_secret_basic/],
    ['private_key_jwt without --jwks-file', ['--name', 'Recusado 4', '--redirect-uri', 'https://x.example/cb', '--auth', 'private_key_jwt'], /--jwks-file: private_key_jwt needs/],
    ['a missing name', ['--redirect-uri', 'https://x.example/cb'], /--name: required/],
    ['no redirect URI', ['--name', 'Recusado 6'], /--redirect-uri: required/],
    ['a terms file that does not exist', ['--name', 'Recusado 7', '--redirect-uri', 'https://x.example/cb', '--terms-file', '/nonexistent/termos.md'], /cannot read file/],
  ];

  test('add refuses bad input: a clear message on stderr, a non-zero exit, nothing stored', async (t) => {
    const count = () => withDb(async (db) => (await db.selectFrom('services').select('client_id').execute()).length);
    const before = await count();
    for (const [what, args, message] of refused) {
      await t.test(what, async () => {
        const result = await cli('add', ...args);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stdout, /client_secret/);
      });
    }
    assert.equal(await count(), before, 'no refused service was stored');
  });

  test('unknown ids and unknown options are refused with a non-zero exit', async () => {
    for (const command of ['show', 'update', 'rotate-secret', 'remove']) {
      const result = await cli(command, 'no-such-service');
      assert.equal(result.code, 1, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /Service not found/);
    }
    const unknown = await cli('add', '--nome', 'x');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--nome'/);
    const missingId = await cli('show');
    assert.equal(missingId.code, 2);
    assert.match(missingId.stderr, /cidadela service <command>/);
  });

  test('remove deletes the service: gone from list and show, refused at the token endpoint', async () => {
    const removed = await cli('remove', textId);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`service removed: ${textId}`));
    const listed = await cli('list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(textId));
    assert.equal((await cli('show', textId)).code, 1);
    await withServer(async (app) => {
      assert.equal(await tokenEndpointSays(app, textId, textSecret), 'invalid_client');
    });
  });
});
