import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPasswordPolicy } from './password-policy.ts';

const policy = createPasswordPolicy();
const me = { cpf: '52998224725', name: 'Maria Aparecida Souza', birthdate: '1990-07-14', email: 'maria.souza@example.com' };

test('length: at least 8, at most 128, with no composition rules', () => {
  assert.equal(policy.check('abc', me), 'password.too_short');
  assert.equal(policy.check('x'.repeat(129), me), 'password.too_long');
  assert.equal(policy.check('girassol azul montanha chuva', me), null);
  assert.equal(policy.check(`${'palavras longas sem regra '.repeat(2)}`.slice(0, 64), me), null);
});

test('common passwords are refused', () => {
  assert.equal(policy.check('123456789', me), 'password.common');
  assert.equal(policy.check('senha123', {}), 'password.common');
  assert.equal(policy.check('password', {}), 'password.common');
});

test('passwords built from the citizen own data are refused', () => {
  assert.equal(policy.check('52998224725', me), 'password.personal');
  assert.equal(policy.check('maria14071990', me), 'password.personal');
  assert.equal(policy.check('souza1990', me), 'password.personal');
  assert.equal(policy.check('Maria.Souza', me), 'password.personal');
  // Punctuation around own data does not make it someone else's.
  assert.equal(policy.check('maria.souza.1!', me), 'password.personal');
  assert.equal(policy.check('14/07/1990 maria', me), 'password.personal');
  assert.equal(policy.check('529.982.247-25', me), 'password.personal');
});
