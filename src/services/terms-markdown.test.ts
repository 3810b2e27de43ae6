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
