import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSecrets, sixDigitCode } from './secrets.ts';

test('sealed values open with the same secret and not with another', () => {
  const a = createSecrets('a'.repeat(40));
  const sealed = a.seal('{"kty":"EC"}');
  assert.notEqual(sealed.includes('kty'), true);
  assert.equal(a.open(sealed), '{"kty":"EC"}');
  assert.throws(() => createSecrets('b'.repeat(40)).open(sealed));
  const parts = sealed.split('.');
  parts[3] = `A${parts[3]!.slice(1)}`;
  assert.throws(() => a.open(parts.join('.')));
});

test('digests depend on purpose and secret; codes have six digits', () => {
  const a = createSecrets('a'.repeat(40));
  assert.notEqual(a.digest('x', '1'), a.digest('y', '1'));
  assert.notEqual(a.digest('x', '1'), createSecrets('b'.repeat(40)).digest('x', '1'));
  for (let i = 0; i < 50; i++) assert.match(sixDigitCode(), /^\d{6}$/);
});
