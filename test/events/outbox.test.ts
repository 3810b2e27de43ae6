import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fanOut } from '../../src/events/fan-out.ts';
import {
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  ACCOUNT_PURGED,
  CLAIMS_CHANGE,
  CONSENT_GRANTED,
  CONSENT_REVOKED,
  createSetSigner,
} from '../../src/events/set-format.ts';
import { createCitizenStore, writeProfile } from '../../src/identity/citizen-store.ts';
import { createAccountActions } from '../../src/personal-data.ts';
import { loadSigningKeys } from '../../src/oidc/keys.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import type { Service } from '../../src/services/service-store.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import {
  ADDRESS,
  consent,
  decode,
  publicJwks,
  revoke,
  seedCitizen,
  seedService,
  verifySet,
} from './event-helpers.ts';

const ISSUER = 'http://127.0.0.1:9/issuer';

describe('events are written with the change and fanned out by consent and contract', () => {
  let database: TestDatabase;
  let db: TestDatabase['db'];
  let school: Service; // name, email, address
  let health: Service; // address, birthdate
  let taxes: Service; // birthdate only
  let citizenId: string;

  const deliveries = async (eventType?: string) => {
    let q = db.selectFrom('event_deliveries').selectAll().where('citizen_id', '=', citizenId).orderBy('id');
    if (eventType) q = q.where('event_type', '=', eventType);
    return q.execute();
  };
  const eventCount = async () =>
    Number(
      (
        await db
          .selectFrom('events')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('citizen_id', '=', citizenId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const change = async (values: Record<string, unknown>, origin?: string) => {
    const citizen = (await createCitizenStore(db).findById(citizenId))!;
    return db
      .transaction()
      .execute((trx) => writeProfile(trx, citizen, values as never, { clientId: origin ?? null }));
  };
  const clear = () => db.deleteFrom('event_deliveries').where('citizen_id', '=', citizenId).execute();

  before(async () => {
    database = await createTestDatabase();
    db = database.db;
    school = await seedService(db, ['name', 'email', 'address']);
    health = await seedService(db, ['address', 'birthdate']);
    taxes = await seedService(db, ['birthdate']);
    const citizen = await seedCitizen(db);
    citizenId = citizen.id;
    await change({ address: ADDRESS });
    await consent(db, citizenId, school);
    await consent(db, citizenId, health);
    await consent(db, citizenId, taxes);
    await fanOut(db, ISSUER);
    await clear();
  });

  after(async () => {
    await database?.drop();
  });

  test('a change that rolls back leaves no event; one that commits leaves exactly one', async () => {
    const before = await eventCount();
    const citizen = (await createCitizenStore(db).findById(citizenId))!;
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await writeProfile(trx, citizen, { mother_name: 'Ana Maria Souza' });
        throw new Error('something after the write failed');
      }),
      /something after/,
    );
    assert.equal(await eventCount(), before);
    assert.equal((await createCitizenStore(db).findById(citizenId))!.profile.mother_name, undefined);
    assert.deepEqual(await change({ mother_name: 'Ana Maria Souza' }), ['mother_name']);
    assert.equal(await eventCount(), before + 1);
    assert.deepEqual(await change({ mother_name: 'Ana Maria Souza' }), [], 'no change, no event');
    assert.equal(await eventCount(), before + 1);
  });

  test('a field reaches only the services whose contract has it, with only that field', async () => {
    await fanOut(db, ISSUER);
    await clear();
    const moved = { ...ADDRESS, street_address: 'Avenida Sete de Setembro', number: '2000' };
    await change({ address: moved, birthdate: '1980-01-03' });
    const r = await fanOut(db, ISSUER);
    assert.equal(r.events, 1);
    const rows = await deliveries();
    const byClient = Object.fromEntries(rows.map((d) => [d.client_id, d.payload as Record<string, any>]));
    assert.deepEqual(Object.keys(byClient).sort(), [school.clientId, health.clientId, taxes.clientId].sort());
    const claims = (c: string) => byClient[c]!.events[CLAIMS_CHANGE].claims;
    assert.deepEqual(Object.keys(claims(school.clientId)), ['address']);
    assert.equal(claims(school.clientId).address.street_address, 'Avenida Sete de Setembro');
    assert.match(claims(school.clientId).address.formatted, /Avenida Sete de Setembro, 2000/);
    assert.deepEqual(Object.keys(claims(health.clientId)).sort(), ['address', 'birthdate']);
    assert.deepEqual(claims(taxes.clientId), { birthdate: '1980-01-03' });
    for (const [clientId, payload] of Object.entries(byClient)) {
      assert.equal(payload.aud, clientId);
      assert.equal(payload.sub, citizenId);
      assert.equal(payload.iss, ISSUER);
    }
    assert.equal(new Set(rows.map((d) => d.jti)).size, rows.length, 'one jti per delivery');
  });

  test('a field the citizen did not share with a service does not reach it', async () => {
    await clear();
    // Re-consent to health without sharing birthdate.
    await consent(db, citizenId, health, ['address']);
    await fanOut(db, ISSUER);
    await clear();
    await change({ birthdate: '1980-01-04' });
    await fanOut(db, ISSUER);
    assert.deepEqual(
      (await deliveries()).map((d) => d.client_id),
      [taxes.clientId],
    );
    await consent(db, citizenId, health);
    await fanOut(db, ISSUER);
    await clear();
  });

  test('the service that wrote a change back gets no echo', async () => {
    await change({ address: { ...ADDRESS, number: '7' } }, school.clientId);
    await fanOut(db, ISSUER);
    assert.deepEqual(
      (await deliveries()).map((d) => d.client_id),
      [health.clientId],
    );
    await clear();
  });

  test('consent events go to their own service only; after a revocation, nothing more reaches it', async () => {
    await revoke(db, citizenId, health.clientId);
    await change({ address: { ...ADDRESS, number: '8' } });
    await fanOut(db, ISSUER);
    const rows = await deliveries();
    assert.deepEqual(
      rows.map((d) => [d.client_id, d.event_type]),
      [
        [health.clientId, CONSENT_REVOKED],
        [school.clientId, CLAIMS_CHANGE],
      ],
    );
    await clear();
    await consent(db, citizenId, health);
    await fanOut(db, ISSUER);
    const granted = await deliveries();
    assert.deepEqual(
      granted.map((d) => [d.client_id, d.event_type]),
      [[health.clientId, CONSENT_GRANTED]],
    );
    assert.deepEqual((granted[0]!.payload as any).events[CONSENT_GRANTED].fields_shared, [
      'address',
      'birthdate',
    ]);
    await clear();
  });

  test('an e-mail verified reaches the services that receive the e-mail, as a claims change', async () => {
    const email = (await createCitizenStore(db).findById(citizenId))!.email!;
    await db.updateTable('citizens').set({ email_verified: false }).where('id', '=', citizenId).execute();
    const { recordEvent } = await import('../../src/events/outbox.ts');
    await db.transaction().execute((trx) => recordEvent(trx, { type: 'email.verified', citizenId, email }));
    await fanOut(db, ISSUER);
    const rows = await deliveries();
    assert.deepEqual(
      rows.map((d) => d.client_id),
      [school.clientId],
    );
    assert.deepEqual((rows[0]!.payload as any).events[CLAIMS_CHANGE].claims, { email, email_verified: true });
    await clear();
  });

  test('disable and enable reach every consented service; the account cannot be used meanwhile', async () => {
    const lifecycle = createAccountActions(db);
    assert.equal(await lifecycle.disable(citizenId), 'done');
    assert.equal(await lifecycle.disable(citizenId), 'unchanged');
    assert.equal((await createCitizenStore(db).findById(citizenId))!.status, 'disabled');
    assert.equal(await lifecycle.enable(citizenId), 'done');
    await fanOut(db, ISSUER);
    const rows = await deliveries();
    const types = (t: string) =>
      rows
        .filter((d) => d.event_type === t)
        .map((d) => d.client_id)
        .sort();
    const all = [school.clientId, health.clientId, taxes.clientId].sort();
    assert.deepEqual(types(ACCOUNT_DISABLED), all);
    assert.deepEqual(types(ACCOUNT_ENABLED), all);
    // Per service, disabled comes before enabled.
    for (const c of all) {
      assert.deepEqual(
        rows.filter((d) => d.client_id === c).map((d) => d.event_type),
        [ACCOUNT_DISABLED, ACCOUNT_ENABLED],
      );
    }
    await clear();
  });

  test('SETs are signed with the provider key: typ secevent+jwt, ES256, verifiable with the public JWKS', async () => {
    const keys = await loadSigningKeys(db, createSecrets(TEST_SECRET));
    const signer = await createSetSigner(keys);
    await change({ birthdate: '1980-01-05' });
    await fanOut(db, ISSUER);
    const row = (await deliveries())[0]!;
    const token = await signer.sign(row.payload!);
    const { payload, header } = await verifySet(token, publicJwks(keys), ISSUER, row.client_id);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'secevent+jwt');
    assert.equal(payload.jti, row.jti);
    assert.deepEqual(payload.sub_id, { format: 'iss_sub', iss: ISSUER, sub: citizenId });
    assert.equal(typeof payload.iat, 'number');
    assert.equal(typeof payload.events[CLAIMS_CHANGE].event_timestamp, 'number');
    // Signed again (a retry), it is the same SET: same jti.
    assert.equal(decode(await signer.sign(row.payload!)).jti, row.jti);
    await clear();
  });

  test('deleting purges the personal data, keeps a tombstone, and tells every consented service', async () => {
    // An undelivered claims change is dropped by the purge: it carried personal data.
    await change({ address: { ...ADDRESS, street_address: 'Rua Souza Naves' } });
    await fanOut(db, ISSUER);
    assert.ok((await deliveries(CLAIMS_CHANGE)).length > 0);
    const lifecycle = createAccountActions(db);
    assert.equal(await lifecycle.purge(citizenId), 'done');
    assert.equal(await lifecycle.purge(citizenId), 'unchanged');
    await fanOut(db, ISSUER);
    const rows = await deliveries();
    assert.deepEqual(
      rows.filter((d) => d.event_type === CLAIMS_CHANGE),
      [],
    );
    assert.deepEqual(
      rows
        .filter((d) => d.event_type === ACCOUNT_PURGED)
        .map((d) => d.client_id)
        .sort(),
      [school.clientId, health.clientId, taxes.clientId].sort(),
    );
    const row = await db
      .selectFrom('citizens')
      .selectAll()
      .where('id', '=', citizenId)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'deleted');
    assert.equal(row.cpf, null);
    assert.equal(row.name, '');
    assert.deepEqual(await db.selectFrom('credentials').select('type').where('citizen_id', '=', citizenId).execute(), []);
    assert.deepEqual(row.profile, {});
    assert.doesNotMatch(row.email!, /example\.test/);
    assert.equal(
      (await db.selectFrom('consent_current').selectAll().where('citizen_id', '=', citizenId).execute())
        .length,
      0,
    );
    const leftovers = await db
      .selectFrom('events')
      .select('data')
      .where('citizen_id', '=', citizenId)
      .execute();
    assert.doesNotMatch(JSON.stringify(leftovers), /Souza|Novembro|Setembro/);
    // Consent evidence stays (LGPD asks the city to keep it).
    assert.ok(
      (await db.selectFrom('consents').selectAll().where('citizen_id', '=', citizenId).execute()).length > 0,
    );
  });
});
