import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cnpjFromBase, formatCnpj, isAlphanumericCnpj, normalizeCnpj } from './cnpj.ts';

test('accepts a valid numeric CNPJ with or without punctuation', () => {
  assert.equal(normalizeCnpj('11.222.333/0001-81'), '11222333000181');
  assert.equal(normalizeCnpj(' 11222333000181 '), '11222333000181');
});

test("accepts the Receita Federal's alphanumeric example, letters valued as ASCII minus 48", () => {
  // The example published with the alphanumeric CNPJ (IN RFB 2.229/2024): base 12ABC34501DE, check digits 35.
  assert.equal(normalizeCnpj('12.ABC.345/01DE-35'), '12ABC34501DE35');
  assert.equal(normalizeCnpj('12abc34501de35'), '12ABC34501DE35');
  assert.equal(cnpjFromBase('12ABC34501DE'), '12ABC34501DE35');
  assert.ok(isAlphanumericCnpj('12ABC34501DE35'));
  assert.ok(!isAlphanumericCnpj('11222333000181'));
});

test('refuses wrong check digits, letters in the check digits, wrong length and repeated digits', () => {
  assert.equal(normalizeCnpj('11.222.333/0001-82'), null);
  assert.equal(normalizeCnpj('12ABC34501DE36'), null);
  assert.equal(normalizeCnpj('12ABC34501DE3A'), null);
  assert.equal(normalizeCnpj('1122233300018'), null);
  assert.equal(normalizeCnpj('00000000000000'), null);
  assert.equal(normalizeCnpj('12ABC34501DÉ35'), null);
  assert.equal(normalizeCnpj(''), null);
});

test('builds valid CNPJs from a base and formats them', () => {
  for (const base of ['112223330001', 'ABCDEFGHIJKL', '0000000Z0001']) {
    const cnpj = cnpjFromBase(base);
    assert.equal(normalizeCnpj(cnpj), cnpj);
  }
  assert.equal(formatCnpj('12ABC34501DE35'), '12.ABC.345/01DE-35');
  assert.throws(() => cnpjFromBase('12ABC'));
});
