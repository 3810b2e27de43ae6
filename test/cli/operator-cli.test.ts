import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { listAudit, pruneAudit, recordAudit } from '../../src/console/audit-log.ts';
import { CLI_MODES, startCli } from '../helpers/cli.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

/** `cidadela operator grant|revoke|list`, with no server running and through a running server. */
for (const { mode, title } of CLI_MODES)
  describe(`cidadela operator (${title})`, () => {
    let database: TestDatabase;
    let commands: Awaited<ReturnType<typeof startCli>>;

    before(async () => {
      database = await createTestDatabase();
      commands = await startCli(mode, database.db);
    });
    after(async () => {
      await commands?.close();
      await database?.drop();
    });
    const cli = (...argv: string[]) => commands.cli('operator', ...argv);

    test('grant by CPF in any punctuation, list, revoke; each change audited as the CLI', async () => {
      const maria = await seedCitizen(database.db);
      const granted = await cli('grant', maria.cpf, '--role', 'attendant');
      assert.equal(granted.code, 0, granted.stderr);
      assert.match(granted.stdout, new RegExp(`${maria.id} is now attendant`));
      assert.match((await cli('grant', maria.cpf.replace(/\D/g, ''), '--role', 'attendant')).stdout, /was already attendant/);
      assert.equal((await cli('grant', maria.id, '--role', 'auditor')).code, 0);

      const listed = await cli('list', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout).operators.filter((o: { id: string }) => o.id === maria.id);
      assert.deepEqual(rows.map((r: { role: string }) => r.role).sort(), ['attendant', 'auditor']);
      assert.ok(rows.every((r: { grantedBy: string }) => r.grantedBy === 'cli'));

      assert.match((await cli('revoke', maria.cpf, '--role', 'auditor')).stdout, /no longer auditor/);
      assert.match((await cli('revoke', maria.cpf, '--role', 'auditor')).stdout, /was not auditor/);
      assert.doesNotMatch((await cli('list')).stdout, new RegExp(`${maria.id}\\tauditor`));

      const audit = await listAudit(database.db, { citizenId: maria.id });
      assert.deepEqual(
        audit.map((a) => [a.kind, a.detail.role, a.actor]),
        [
          ['operator.revoked', 'auditor', 'cli'],
          ['operator.granted', 'auditor', 'cli'],
          ['operator.granted', 'attendant', 'cli'],
        ],
      );
    });

    test('bad input: unknown role, unknown person, a disabled account, missing arguments; nothing changes', async () => {
      const joao = await seedCitizen(database.db);
      const before = (await cli('list', '--json')).stdout;
      const badRole = await cli('grant', joao.cpf, '--role', 'root');
      assert.equal(badRole.code, 2);
      assert.match(badRole.stderr, /--role must be one of admin, attendant, auditor/);
      assert.equal((await cli('grant', joao.cpf)).code, 2);
      const nobody = await cli('grant', '111.444.777-35', '--role', 'admin');
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /no such citizen/);
      assert.equal((await commands.cli('citizen', 'disable', joao.cpf)).code, 0);
      const disabled = await cli('grant', joao.cpf, '--role', 'admin');
      assert.equal(disabled.code, 1);
      assert.match(disabled.stderr, /is disabled; enable it first/);
      assert.equal((await cli('list', '--json')).stdout, before);
      assert.equal((await cli('frobnicate')).code, 2);
      assert.equal((await commands.cli('operator', '--help')).code, 0);
      // The disabling by the CLI is itself in the audit log.
      assert.deepEqual((await listAudit(database.db, { citizenId: joao.id })).map((a) => [a.kind, a.actor]), [['account.disabled', 'cli']]);
    });
  });

describe('the audit log is append-only', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => database?.drop());

  test('the database refuses updates and deletes; the retention prune removes only what is older than the retention', async () => {
    const { db } = database;
    await recordAudit(db, { actor: 'cli', kind: 'test.old', reason: 'old' });
    await recordAudit(db, { actor: 'cli', kind: 'test.new', reason: 'new' });
    await assert.rejects(sql`update audit_log set reason = 'changed'`.execute(db), /append-only/);
    await assert.rejects(sql`delete from audit_log`.execute(db), /append-only/);
    // Setting the prune marker by hand still only lets older rows go.
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await sql`select set_config('cidadela.audit_prune_before', '2000-01-01', true)`.execute(trx);
        await sql`delete from audit_log`.execute(trx);
      }),
      /append-only/,
    );
    // Backdating needs the trigger out of the way: a test-only step, as an old row would be.
    await sql`alter table audit_log disable trigger audit_log_append_only`.execute(db);
    await sql`update audit_log set at = now() - interval '40 days' where kind = 'test.old'`.execute(db);
    await sql`alter table audit_log enable trigger audit_log_append_only`.execute(db);
    assert.equal(await pruneAudit(db, 30), 1);
    assert.deepEqual((await listAudit(db, {})).map((a) => a.kind), ['test.new']);
  });
});
