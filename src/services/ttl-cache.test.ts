import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTtlCache } from './ttl-cache.ts';

test('answers from memory within the ttl, loads again after it, shares a pending load', async () => {
  let loads = 0;
  let now = 1_000;
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const cache = createTtlCache(5_000, async (k) => `${k}:${++loads}`);
    const [a, b] = await Promise.all([cache('x'), cache('x')]);
    assert.equal(a, 'x:1');
    assert.equal(b, 'x:1');
    now += 4_999;
    assert.equal(await cache('x'), 'x:1');
    now += 2;
    assert.equal(await cache('x'), 'x:2');
    const failing = createTtlCache(5_000, async () => {
      loads++;
      throw new Error('db down');
    });
    await assert.rejects(failing('y'));
    await new Promise((r) => setImmediate(r));
    await assert.rejects(failing('y'));
    assert.equal(loads, 4, 'a failed load is not remembered');
    const off = createTtlCache(0, async () => ++loads);
    assert.notEqual(await off('z'), await off('z'));
  } finally {
    Date.now = realNow;
  }
});
