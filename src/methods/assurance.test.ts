import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deriveSignIn } from './assurance.ts';
import type { Verification } from './verifications.ts';

let n = 0;
function proof(over: Partial<Verification>): Verification {
  n += 1;
  return {
    id: `v${n}`,
    interactionUid: 'uid-1',
    citizenId: 'citizen-a',
    method: 'password',
    purpose: 'authentication',
    factor: 'knowledge',
    amr: ['pwd'],
    assurance: 'bronze',
    verifiedAt: new Date(1_700_000_000_000 + n * 1000),
    ...over,
  };
}

describe('what a sign-in tells services comes from what was proven', () => {
  test('a password alone: pwd, bronze, auth_time of the proof', () => {
    const p = proof({});
    const out = deriveSignIn([p]);
    assert.ok(out.ok);
    assert.deepEqual(out.result, { citizenId: 'citizen-a', amr: ['pwd'], acr: 'bronze', authTime: Math.floor(p.verifiedAt.getTime() / 1000) });
  });

  test('proving an address adds nothing to amr, but moves auth_time to the latest proof', () => {
    const pwd = proof({});
    const mail = proof({ method: 'email_code', purpose: 'address', factor: 'possession', amr: [] });
    const out = deriveSignIn([pwd, mail]);
    assert.ok(out.ok);
    assert.deepEqual(out.result.amr, ['pwd']);
    assert.equal(out.result.authTime, Math.floor(mail.verifiedAt.getTime() / 1000));
  });

  test('two kinds of factor make mfa; the highest assurance reached is the acr', () => {
    const out = deriveSignIn([proof({}), proof({ method: 'sms_code', factor: 'possession', amr: ['sms'], assurance: 'prata' })]);
    assert.ok(out.ok);
    assert.deepEqual(out.result.amr, ['pwd', 'sms', 'mfa']);
    assert.equal(out.result.acr, 'prata');
  });

  test('two proofs of the same kind of factor are not mfa', () => {
    const out = deriveSignIn([proof({}), proof({ method: 'email_code', factor: 'knowledge', amr: ['otp'] })]);
    assert.ok(out.ok);
    assert.deepEqual(out.result.amr, ['pwd', 'otp']);
  });

  test('the level never exceeds the account own level', () => {
    const out = deriveSignIn([proof({ assurance: 'ouro', amr: ['swk'], factor: 'possession' })], 'prata');
    assert.ok(out.ok);
    assert.equal(out.result.acr, 'prata');
  });

  test('nothing proven to sign in, or proofs about two citizens: no sign-in', () => {
    assert.deepEqual(deriveSignIn([]), { ok: false, reason: 'no_authentication' });
    assert.deepEqual(deriveSignIn([proof({ purpose: 'address', amr: [] })]), { ok: false, reason: 'no_authentication' });
    assert.deepEqual(deriveSignIn([proof({}), proof({ citizenId: 'citizen-b' })]), { ok: false, reason: 'mixed_citizens' });
  });
});
