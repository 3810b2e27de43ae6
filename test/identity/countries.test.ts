import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countryOptions } from '../../src/flows/field-inputs.ts';
import { isCountryCode } from '../../src/identity/field-catalog.ts';
import { LOCALES } from '../../src/platform/i18n.ts';

test('country lists: the current ISO 3166-1 codes only, each name once, in the page language', () => {
  for (const locale of LOCALES) {
    const options = countryOptions(locale);
    assert.equal(options.length, 249, locale);
    const names = options.map((o) => o.label);
    assert.equal(new Set(names).size, names.length, `${locale}: a country named twice`);
    assert.ok(
      names.every((n, i) => i === 0 || names[i - 1]!.localeCompare(n, locale) <= 0),
      `${locale}: sorted`,
    );
  }
  const de = (locale: string) => countryOptions(locale as never).find((o) => o.value === 'DE')!.label;
  assert.deepEqual([de('pt-BR'), de('en'), de('es')], ['Alemanha', 'Germany', 'Alemania']);
  // Withdrawn, reserved and user-assigned codes that Intl still names.
  for (const code of ['DD', 'UK', 'SU', 'CS', 'YU', 'AN', 'TP', 'ZR', 'EU', 'UN', 'XK', 'ZZ'])
    assert.equal(isCountryCode(code), false, code);
  for (const code of ['BR', 'DE', 'GB', 'RU', 'RS', 'ME', 'SS', 'CW', 'BQ'])
    assert.equal(isCountryCode(code), true, code);
});
