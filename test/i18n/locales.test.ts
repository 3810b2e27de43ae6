import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { ADDRESS_PARTS, FIELD_CATALOG } from '../../src/identity/field-catalog.ts';
import { LOCALES, type Messages } from '../../src/platform/i18n.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function readLocale(locale: string): { text: string; messages: Messages } {
  const text = readFileSync(join(ROOT, 'locales', `${locale}.json`), 'utf8');
  return { text, messages: JSON.parse(text) as Messages };
}

const placeholders = (value: string) => [...new Set([...value.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))].sort();

/** Everything wrong between the locale tables, as readable lines (empty: all good). */
function compareLocales(tables: Record<string, Messages>, reference = 'pt-BR'): string[] {
  const problems: string[] = [];
  const ref = tables[reference]!;
  for (const [locale, table] of Object.entries(tables)) {
    for (const [key, value] of Object.entries(table)) {
      if (typeof value !== 'string') problems.push(`${locale}: ${key} is not a string`);
      else if (value.trim() === '') problems.push(`${locale}: ${key} is empty`);
    }
    if (locale === reference) continue;
    for (const key of Object.keys(ref)) if (!(key in table)) problems.push(`${locale}: missing ${key}`);
    for (const key of Object.keys(table)) if (!(key in ref)) problems.push(`${locale}: ${key} is not in ${reference}`);
    for (const [key, value] of Object.entries(table)) {
      const mine = typeof value === 'string' ? placeholders(value) : [];
      const theirs = typeof ref[key] === 'string' ? placeholders(ref[key]) : mine;
      if (mine.join() !== theirs.join()) problems.push(`${locale}: ${key} has {${mine.join('}, {')}} but ${reference} has {${theirs.join('}, {')}}`);
    }
  }
  return problems;
}

/** A key written twice in one file: JSON.parse silently keeps the last one. */
function duplicateKeys(text: string): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const m of text.matchAll(/^\s*"((?:[^"\\]|\\.)+)"\s*:/gm)) {
    if (seen.has(m[1]!)) dup.push(m[1]!);
    seen.add(m[1]!);
  }
  return dup;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

type Use = { key: string; where: string };

/** Where the code that shows pages to a person lives: codes returned there end up in t(...). */
const PERSON_FACING = /^src\/(flows|methods|http|account)\//;

/**
 * The message keys the code uses: literals given to t(...); AppError codes (the error handler
 * shows them with t, and CONVENTIONS.md makes the code the message key); and, in the person-facing
 * modules, any string literal shaped like a key in one of the locales' namespaces (the error codes
 * flows and methods return, which a page later passes to t), except event names and comparisons
 * (`type: 'account.disabled'`, `case '...'`, `=== '...'`). Template literals given to t become patterns.
 */
function keysUsed(files: { path: string; text: string }[], namespaces: Set<string>): { keys: Use[]; patterns: Use[] } {
  const keys: Use[] = [];
  const patterns: Use[] = [];
  for (const { path, text } of files) {
    const where = (index: number) => `${path}:${text.slice(0, index).split('\n').length}`;
    for (const m of text.matchAll(/\b(?:t|translate|AppError|UnavailableError)\(\s*(['"])([^'"\n]+)\1/g)) {
      keys.push({ key: m[2]!, where: where(m.index) });
    }
    if (PERSON_FACING.test(path)) {
      for (const m of text.matchAll(/(['"])([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)\1/g)) {
        const before = text.slice(Math.max(0, m.index - 12), m.index);
        if (/(\btype\s*:|\bcase|[!=]==?)\s*$/.test(before)) continue;
        if (namespaces.has(m[2]!.split('.')[0]!)) keys.push({ key: m[2]!, where: where(m.index) });
      }
    }
    for (const m of text.matchAll(/\bt\(\s*`([^`]*)`/g)) {
      const source = m[1]!.split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^()|[\]\\]/g, '\\$&')).join('[A-Za-z0-9_-]+');
      patterns.push({ key: `^${source}$`, where: where(m.index) });
    }
  }
  return { keys, patterns };
}

const tables = Object.fromEntries(LOCALES.map((l) => [l, readLocale(l).messages])) as Record<string, Messages>;

describe('locales', () => {
  test('pt-BR, en and es have exactly the same keys, none empty, with the same {placeholders}', () => {
    assert.deepEqual(compareLocales(tables), []);
    assert.ok(Object.keys(tables['pt-BR']!).length > 50, 'the tables were read');
  });

  test('no key is written twice in a file', () => {
    for (const locale of LOCALES) assert.deepEqual(duplicateKeys(readLocale(locale).text), [], locale);
  });

  test('the comparison notices a missing key, an extra key, an empty value and a changed placeholder', () => {
    const broken: Record<string, Messages> = JSON.parse(JSON.stringify(tables));
    delete broken.en!['login.invalid'];
    broken.es!['login.extra'] = 'sobra';
    broken['pt-BR']!['home.title'] = '  ';
    broken.es!['login.throttled'] = 'Intente de nuevo a las {hora}.';
    const problems = compareLocales(broken);
    assert.ok(problems.includes('en: missing login.invalid'), problems.join('\n'));
    assert.ok(problems.includes('es: login.extra is not in pt-BR'));
    assert.ok(problems.includes('pt-BR: home.title is empty'));
    assert.ok(problems.some((p) => p.startsWith('es: login.throttled has {hora}')));
  });

  test('english and spanish are translations, not copies of the portuguese', () => {
    const copies: string[] = [];
    for (const locale of ['en', 'es']) {
      for (const [key, value] of Object.entries(tables[locale]!)) {
        if (value === tables['pt-BR']![key] && value.split(/\s+/).length >= 4) copies.push(`${locale}: ${key}`);
      }
    }
    assert.deepEqual(copies, []);
  });
});

describe('every message key the code uses exists', () => {
  const files = sourceFiles(join(ROOT, 'src')).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }));
  const namespaces = new Set(Object.keys(tables['pt-BR']!).map((k) => k.split('.')[0]!));
  const { keys, patterns } = keysUsed(files, namespaces);

  test('literal keys: t(...), AppError codes and the error codes flows return', () => {
    assert.ok(keys.some((u) => u.key === 'login.invalid'), 'the scan finds the login error code');
    assert.ok(keys.some((u) => u.key === 'register.cpf_taken'), 'the scan finds AppError codes');
    assert.ok(keys.some((u) => u.key === 'csrf.title'), 'the scan finds t() calls');
    for (const locale of LOCALES) {
      const missing = keys.filter((u) => !(u.key in tables[locale]!)).map((u) => `${u.key} (${u.where})`);
      assert.deepEqual([...new Set(missing)], [], `${locale} lacks keys the code uses`);
    }
  });

  test('keys built at run time: each pattern matches a key, and each catalog field has its labels', () => {
    assert.ok(patterns.some((p) => p.key.startsWith('^password\\.strength_')), 'the scan finds template keys');
    for (const locale of LOCALES) {
      const all = Object.keys(tables[locale]!);
      for (const p of patterns) assert.ok(all.some((k) => new RegExp(p.key).test(k)), `${locale}: nothing matches ${p.key} (${p.where})`);
      for (const s of [0, 1, 2, 3, 4]) assert.ok(`password.strength_${s}` in tables[locale]!, `${locale}: password.strength_${s}`);
      for (const def of FIELD_CATALOG) {
        assert.ok(`field.${def.key}.label` in tables[locale]!, `${locale}: field.${def.key}.label`);
        for (const choice of def.choices ?? []) assert.ok(`field.${def.key}.choice.${choice}` in tables[locale]!, `${locale}: field.${def.key}.choice.${choice}`);
      }
      for (const p of ADDRESS_PARTS) assert.ok(`field.address.${p.part}.label` in tables[locale]!, `${locale}: field.address.${p.part}.label`);
    }
  });

  test('the scan notices a key the locales lack', () => {
    const { keys: found } = keysUsed(
      [
        { path: 'src/flows/x.ts', text: "ui.t('login.nao_existe'); throw new AppError('outro.codigo', 409); return { code: 'register.sumiu' };" },
        { path: 'src/flows/y.ts', text: "if (e.type === 'login.evento') return; recordEvent({ type: 'consent.evento' });" },
        { path: 'src/events/z.ts', text: "return { code: 'register.nao_visto' };" },
      ],
      namespaces,
    );
    const missing = found.filter((u) => !(u.key in tables['pt-BR']!)).map((u) => u.key);
    assert.deepEqual([...new Set(missing)].sort(), ['login.nao_existe', 'outro.codigo', 'register.sumiu']);
  });
});
