import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTerms } from './terms-markdown.ts';

test('markdown renders; raw html, script and javascript: links do not', () => {
  const out = renderTerms(
    '# Termos\n\n**Aceite** <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) [ok](https://example.com)',
  ).value;
  assert.match(out, /<h3>Termos<\/h3>/, 'headings start below the page h2');
  assert.match(out, /<strong>Aceite<\/strong>/);
  assert.doesNotMatch(out, /<script/i);
  assert.doesNotMatch(out, /<img/i);
  assert.doesNotMatch(out, /href="javascript/i);
  assert.match(out, /&lt;script&gt;/);
  assert.match(out, /<a href="https:\/\/example.com" rel="noopener noreferrer">ok<\/a>/);
});

test('terms headings start at h3 whatever level they were written at, and never skip one', () => {
  const levels = (md: string) => [...renderTerms(md).value.matchAll(/<h(\d)>/g)].map((m) => Number(m[1]));
  assert.deepEqual(levels('## Termos\n\ntexto\n\n### Dados\n\n## Fim'), [3, 4, 3]);
  assert.deepEqual(levels('# Termos\n\n### Dados\n\n#### Mais'), [3, 4, 5]);
  assert.deepEqual(levels('#### Primeiro\n\n## Depois\n\n###### Fundo'), [3, 3, 4]);
});
