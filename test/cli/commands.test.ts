import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIELD_CATALOG } from '../../src/identity/field-catalog.ts';
import { CLI_MODES, startCli } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

/*
 * The commands the other CLI tests do not reach (service fields and terms, a contract from a file,
 * keys rotate, migrate, help), each with no server running and through a running server.
 */
for (const { mode, title } of CLI_MODES)
  describe(`cidadela commands (${title})`, () => {
    let database: TestDatabase;
    let commands: Awaited<ReturnType<typeof startCli>>;
    const files = mkdtempSync(join(tmpdir(), 'cidadela-cli-files-'));

    before(async () => {
      database = await createTestDatabase();
      commands = await startCli(mode, database.db);
    });

    after(async () => {
      await commands?.close();
      await database?.drop();
      rmSync(files, { recursive: true, force: true });
    });

    const cli = (...argv: string[]) => commands.cli(...argv);

    test('service fields lists the catalog; a contract from --fields-file and --field is stored; terms lists each version', async () => {
      const fields = await cli('service', 'fields', '--json');
      assert.equal(fields.code, 0, fields.stderr);
      assert.deepEqual(
        JSON.parse(fields.stdout).fields.map((f: { key: string }) => f.key),
        FIELD_CATALOG.map((f) => f.key),
      );
      assert.match((await cli('service', 'fields')).stdout, /^name\tbasic$/m);

      // A path relative to where the command is typed.
      const contract = join(files, 'contrato.json');
      writeFileSync(
        contract,
        JSON.stringify([{ key: 'name', required: true, purpose: 'identificar o aluno' }]),
      );
      const terms = join(files, 'termos.md');
      writeFileSync(terms, '# Termos v1\n');
      const added = await cli(
        'service',
        'add',
        '--json',
        '--name',
        'Matrícula',
        '--client-id',
        'matricula',
        '--redirect-uri',
        'https://m.example/cb',
        '--fields-file',
        relative(process.cwd(), contract),
        '--field',
        'address:optional:enviar o material: em casa',
        `--terms-file=${terms}`,
      );
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(JSON.parse(added.stdout).service.fields, [
        { key: 'name', required: true, purpose: { 'pt-BR': 'identificar o aluno' } },
        { key: 'address', required: false, purpose: { 'pt-BR': 'enviar o material: em casa' } },
      ]);

      writeFileSync(terms, '# Termos v2\n');
      assert.equal((await cli('service', 'update', 'matricula', '--terms-file', terms)).code, 0);
      const history = await cli('service', 'terms', 'matricula');
      assert.equal(history.code, 0, history.stderr);
      const lines = history.stdout.trim().split('\n');
      assert.equal(lines.length, 2, history.stdout);
      // Newest first.
      assert.match(lines[0]!, /^v2\t\S+\tsha256:[0-9a-f]{64}$/);
      assert.match(lines[1]!, /^v1\t\S+\tsha256:[0-9a-f]{64}$/);
      const none = await cli('service', 'terms', 'no-such-service');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /Service not found/);

      const badFile = await cli(
        'service',
        'add',
        '--name',
        'X',
        '--redirect-uri',
        'https://x.example/cb',
        '--fields-file',
        join(files, 'nada.json'),
      );
      assert.equal(badFile.code, 2);
      assert.match(badFile.stderr, /cannot read file: ENOENT/);
    });

    test('--field takes how a field applies to foreigners: a travel document for them, no CPF asked of them; a bad setting is refused', async () => {
      const added = await cli(
        'service',
        'add',
        '--json',
        '--name',
        'Turismo',
        '--redirect-uri',
        'https://turismo.example/cb',
        '--accepts-foreigners',
        '--field',
        'cpf:required/absent:cruzar com o cadastro',
        '--field',
        'passport_number:required:conferir a reserva',
        '--field',
        'passport_country:optional:conferir a reserva',
        '--field',
        'rnm:optional/optional:residentes',
      );
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(JSON.parse(added.stdout).service.fields, [
        { key: 'cpf', required: true, purpose: { 'pt-BR': 'cruzar com o cadastro' }, foreigners: 'absent' },
        { key: 'passport_number', required: true, purpose: { 'pt-BR': 'conferir a reserva' } },
        { key: 'passport_country', required: false, purpose: { 'pt-BR': 'conferir a reserva' } },
        { key: 'rnm', required: false, purpose: { 'pt-BR': 'residentes' }, foreigners: 'optional' },
      ]);
      for (const spec of ['cpf:required/never:x', 'cpf:required/optional/absent:x', 'cpf:sometimes:x']) {
        const bad = await cli('service', 'add', '--name', 'Y', '--redirect-uri', 'https://y.example/cb', '--field', spec);
        assert.equal(bad.code, 2, spec);
        assert.match(bad.stderr, /expected key:required\|optional\[\/required\|optional\|absent\]:purpose/);
      }
    });

    test('keys rotate: new keys; servers and relays pick them up without a restart (KEYS_RELOAD_SECONDS=0: restart both)', async () => {
      const before = await database.db
        .selectFrom('signing_keys')
        .select('kid')
        .where('retired_at', 'is', null)
        .execute();
      const rotated = await cli('keys', 'rotate');
      assert.equal(rotated.code, 0, rotated.stderr);
      const kids = rotated.stdout.match(/new signing keys: (\S+), (\S+)/);
      assert.ok(kids, rotated.stdout);
      const active = await database.db
        .selectFrom('signing_keys')
        .select('kid')
        .where('retired_at', 'is', null)
        .execute();
      assert.deepEqual(active.map((k) => k.kid).sort(), [kids[1]!, kids[2]!].sort());
      assert.ok(!before.some((k) => active.some((a) => a.kid === k.kid)), 'the old keys are retired');
      // Relays reload keys like the servers (decision 0008): nobody is told to restart anything.
      assert.match(rotated.stdout, /publish them within 60 s/);
      assert.match(rotated.stdout, /`cidadela relay` processes sign with them after 120 s/);
      assert.doesNotMatch(rotated.stdout, /restart/);

      const without = await startCli(mode, database.db, { KEYS_RELOAD_SECONDS: '0' });
      try {
        const manual = await without.cli('keys', 'rotate');
        assert.equal(manual.code, 0, manual.stderr);
        assert.match(
          manual.stdout,
          /restart the servers \(one at a time\) and any `cidadela relay` processes/,
        );
      } finally {
        await without.close();
      }
      const unknown = await cli('keys', 'turn');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /keys rotate/);
    });

    test('migrate says the database is up to date', async () => {
      const migrated = await cli('migrate');
      assert.deepEqual(migrated, { code: 0, stdout: 'database is up to date\n', stderr: '' });
    });

    test('help: the usage of each command, exit 0 when asked for, 2 when a command is missing', async () => {
      const help = await cli('--help');
      assert.equal(help.code, 0);
      assert.match(help.stdout, /cidadela <command>/);
      for (const [command, usage] of [
        ['service', /cidadela service <command>[\s\S]*broker-credentials/],
        ['citizen', /cidadela citizen <command>/],
      ] as const) {
        const asked = await cli(command, '--help');
        assert.equal(asked.code, 0);
        assert.match(asked.stdout, usage);
        const missing = await cli(command);
        assert.equal(missing.code, 2);
        assert.match(missing.stdout, usage);
      }
      const unknown = await cli('frobnicate');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /cidadela <command>/);
    });
  });
