import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpfFromBase, formatCpf, normalizeCpf } from './cpf.ts';

test('accepts a valid CPF with or without punctuation', () => {
  assert.equal(normalizeCpf('529.982.247-25'), '52998224725');
  assert.equal(normalizeCpf(' 52998224725 '), '52998224725');
});

test('refuses wrong check digits, wrong length, repeated digits and letters', () => {
  assert.equal(normalizeCpf('529.982.247-26'), null);
  assert.equal(normalizeCpf('5299822472'), null);
  assert.equal(normalizeCpf('111.111.111-11'), null);
  assert.equal(normalizeCpf('52998224725a'), null);
  assert.equal(normalizeCpf(''), null);
});

test('builds valid CPFs from a base and formats them', () => {
  for (const base of ['000000001', '123456789', '987654321']) {
    const cpf = cpfFromBase(base);
    assert.equal(normalizeCpf(cpf), cpf);
  }
  assert.equal(formatCpf('52998224725'), '529.982.247-25');
});
