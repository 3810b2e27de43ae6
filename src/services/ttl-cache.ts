/**
 * Remembers a lookup's answer for `ttlMs` (answers and misses alike), and shares one pending lookup
 * between concurrent callers. For data that changes rarely and may be seen late by a few seconds.
 */
export function createTtlCache<V>(ttlMs: number, load: (key: string) => Promise<V>, maxEntries = 1000) {
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return (key: string): Promise<V> => {
    if (ttlMs <= 0) return load(key);
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    if (entries.size >= maxEntries) entries.clear();
    const value = load(key);
    entries.set(key, { at: now, value });
    value.catch(() => entries.delete(key));
    return value;
  };
}
