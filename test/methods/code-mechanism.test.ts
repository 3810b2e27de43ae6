import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createCodeMechanism, type CodeMechanism, type CodePurpose } from '../../src/methods/code/code-mechanism.ts';
import { MAX_SENDS, MAX_TRIES } from '../../src/methods/code/code-store.ts';
import { sendEmailCode } from '../../src/methods/email-code/email-code.ts';
import { sendSmsCode } from '../../src/methods/sms-code/sms-code.ts';
import { createI18n } from '../../src/platform/i18n.ts';
import { createRateLimiter, RATE_LIMITS } from '../../src/platform/rate-limit.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';

let database: TestDatabase;
let codes: CodeMechanism;
const t = createI18n().translator('pt-BR');

before(async () => {
  database = await createTestDatabase();
  codes = createCodeMechanism({
    db: database.db,
    secrets: createSecrets(TEST_SECRET),
    limiter: createRateLimiter(database.db),
    senders: { email: sendEmailCode, sms: sendSmsCode },
  });
});
after(() => database?.drop());

/** The code in the last message queued to `to` (the queue is where the mechanism leaves it). */
async function lastCodeTo(to: string): Promise<string> {
  const row = await database.db
    .selectFrom('messages')
    .select(['body_text'])
    .where('recipient', '=', to)
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  return row.body_text!.match(/\b(\d{6})\b/)![1]!;
}

async function issue(purpose: CodePurpose, citizenId: string, address: string, channel: 'email' | 'sms' = 'email') {
  const issued = await database.db.transaction().execute((trx) => codes.issue(trx, { purpose, channel, citizenId, address, t }));
  assert.ok(issued.ok, 'issued');
  return issued.id;
}

function wrong(code: string) {
  return code === '000000' ? '111111' : '000000';
}

/** Lets the resend wait pass without waiting. */
async function ageLastSend(id: string) {
  const row = await database.db.selectFrom('flows').select('data').where('id', '=', id).executeTakeFirstOrThrow();
  const data = { ...(row.data as Record<string, unknown>), lastSentAt: Date.now() - 60_000 };
  await database.db.updateTable('flows').set({ data: JSON.stringify(data) }).where('id', '=', id).execute();
}

describe('one code mechanism, whatever the code is for', () => {
  test('a right code proves who holds which address, on which channel, for which purpose; once', async () => {
    const citizen = await seedCitizen(database.db);
    const id = await issue('email_change', citizen.id, 'nova@example.org');
    const code = await lastCodeTo('nova@example.org');
    const proven = await codes.check({ id, purpose: 'email_change', typed: code });
    assert.deepEqual(proven, {
      ok: true,
      proof: { citizenId: citizen.id, channel: 'email', address: 'nova@example.org', purpose: 'email_change', interactionUid: null },
    });
    assert.deepEqual(await codes.check({ id, purpose: 'email_change', typed: code }), { ok: false, code: 'code.unknown' });
  });

  test('a code issued for one purpose proves nothing for another', async () => {
    const citizen = await seedCitizen(database.db);
    const id = await issue('email_change', citizen.id, 'outra@example.org');
    const code = await lastCodeTo('outra@example.org');
    for (const other of ['email_confirmation', 'phone_verification'] as const) {
      assert.deepEqual(await codes.check({ id, purpose: other, typed: code }), { ok: false, code: 'code.unknown' });
    }
    // The misuse spent nothing: the code still works for its own purpose.
    assert.equal((await codes.check({ id, purpose: 'email_change', typed: code })).ok, true);
  });

  test(`a resend draws a new code but never new tries: ${MAX_TRIES} wrong guesses in all, however many sends`, async () => {
    const citizen = await seedCitizen(database.db);
    const address = `alvo-${citizen.id.slice(0, 6)}@example.org`;
    const id = await issue('email_change', citizen.id, address);
    // The attacker guesses until refused, asks for a new code, and guesses again, every time.
    let guesses = 0;
    for (let send = 1; send <= MAX_SENDS; send++) {
      const code = await lastCodeTo(address);
      for (;;) {
        const answer = await codes.check({ id, purpose: 'email_change', typed: wrong(code) });
        if (answer.ok || answer.code !== 'code.invalid') break;
        guesses += 1;
      }
      await ageLastSend(id);
      if ((await codes.resend(id, 'email_change', t)) !== 'sent') break;
    }
    assert.equal(guesses, MAX_TRIES - 1, 'wrong guesses answered "try again"');
    // The right code no longer helps, and no new code can be sent for the spent flow.
    const right = await lastCodeTo(address);
    assert.deepEqual(await codes.check({ id, purpose: 'email_change', typed: right }), { ok: false, code: 'code.too_many' });
    await ageLastSend(id);
    assert.equal(await codes.resend(id, 'email_change', t), 'code.too_many');
  });

  test('wrong codes say how many tries are left; an expired code is refused even when right', async () => {
    const citizen = await seedCitizen(database.db);
    const id = await issue('phone_verification', citizen.id, '+5541991112222', 'sms');
    const code = await lastCodeTo('+5541991112222');
    assert.deepEqual(await codes.check({ id, purpose: 'phone_verification', typed: wrong(code) }), { ok: false, code: 'code.invalid', triesLeft: MAX_TRIES - 1 });
    await database.db.updateTable('flows').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', id).execute();
    assert.deepEqual(await codes.check({ id, purpose: 'phone_verification', typed: code }), { ok: false, code: 'code.expired' });
  });

  test('one address receives few codes a day, whichever accounts ask (no mail-bombing)', async () => {
    const target = 'vitima@example.org';
    const limit = RATE_LIMITS.emailCodesPerAddress.limit;
    let refused;
    for (let i = 0; i <= limit; i++) {
      const asker = await seedCitizen(database.db);
      const issued = await database.db
        .transaction()
        .execute((trx) => codes.issue(trx, { purpose: 'email_change', channel: 'email', citizenId: asker.id, address: target, t }));
      if (!issued.ok) {
        refused = i;
        break;
      }
    }
    assert.equal(refused, limit, `refused after ${limit} codes`);
    const sent = await database.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).where('recipient', '=', target).executeTakeFirstOrThrow();
    assert.equal(Number(sent.n), limit, 'nothing queued for the refused one');
  });

  test('a new code for the same purpose replaces the open one', async () => {
    const citizen = await seedCitizen(database.db);
    const first = await issue('phone_verification', citizen.id, '+5541993334444', 'sms');
    const firstCode = await lastCodeTo('+5541993334444');
    await issue('phone_verification', citizen.id, '+5541993334444', 'sms');
    assert.deepEqual(await codes.check({ id: first, purpose: 'phone_verification', typed: firstCode }), { ok: false, code: 'code.unknown' });
    const pending = await codes.pending({ purpose: 'phone_verification', citizenId: citizen.id });
    assert.equal(pending?.address, '+5541993334444');
    assert.notEqual(pending?.id, first);
  });
});

test('SMS_COUNTRIES: a code by SMS to a country not enabled is refused before anything is written or sent', async () => {
  const c = await seedCitizen(database.db);
  const abroad = '+351912345678';
  const refused = await database.db.transaction().execute((trx) =>
    codes.issue(trx, { purpose: 'phone_verification', channel: 'sms', citizenId: c.id, address: abroad, t }),
  );
  assert.deepEqual(refused, { ok: false, code: 'code.country_disabled' });
  const flows = await database.db.selectFrom('flows').select('id').where('citizen_id', '=', c.id).execute();
  assert.equal(flows.length, 0, 'no code opened');
  const sent = await database.db.selectFrom('messages').select('id').where('recipient', '=', abroad).execute();
  assert.equal(sent.length, 0, 'nothing queued');

  // Enabled by the operator: the same number gets its code; disabled again: no resend.
  const portugal = createCodeMechanism({
    db: database.db,
    secrets: createSecrets(TEST_SECRET),
    limiter: createRateLimiter(database.db),
    senders: { email: sendEmailCode, sms: sendSmsCode },
    smsCountries: ['BR', 'PT'],
  });
  const issued = await database.db.transaction().execute((trx) =>
    portugal.issue(trx, { purpose: 'phone_verification', channel: 'sms', citizenId: c.id, address: abroad, t }),
  );
  assert.equal(issued.ok, true);
  assert.ok(await lastCodeTo(abroad));
  if (!issued.ok) return;
  await database.db.updateTable('flows').set({ data: sql`data || '{"lastSentAt": 0}'::jsonb` }).where('id', '=', issued.id).execute();
  assert.equal(await codes.resend(issued.id, 'phone_verification', t), 'code.country_disabled');
});
