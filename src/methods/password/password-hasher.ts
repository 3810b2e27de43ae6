import { hash, parseOptions, verify } from '@node-rs/argon2';

// Algorithm.Argon2id and Version.V0x13; the package exports them as const enums, which erasable
// TypeScript cannot import.
const ARGON2ID = 2;
const V0X13 = 1;
const OUTPUT_LENGTH = 32;

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Changing these rehashes on the next login. */
export const ARGON2_PARAMS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export type PasswordHasher = {
  hash(password: string): Promise<string>;
  /** Always does the same work, with or without a stored hash, so timing reveals nothing. */
  verify(stored: string | null, password: string): Promise<boolean>;
  needsRehash(stored: string): boolean;
};

// @node-rs/argon2 runs on libuv's thread pool, so hashing never blocks the event loop.
export function createPasswordHasher(): PasswordHasher {
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, ARGON2_PARAMS),
    async verify(stored, password) {
      if (!stored) {
        dummy ??= hash('cidadela-timing-equaliser', ARGON2_PARAMS);
        await verify(await dummy, password).catch(() => false);
        return false;
      }
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    // Every parameter counts, not only m, t and p: hashes brought from another system may differ
    // in argon2 version or output length too.
    needsRehash(stored) {
      try {
        const o = parseOptions(stored);
        return (
          o.algorithm !== ARGON2_PARAMS.algorithm ||
          o.version !== V0X13 ||
          o.memoryCost !== ARGON2_PARAMS.memoryCost ||
          o.timeCost !== ARGON2_PARAMS.timeCost ||
          o.parallelism !== ARGON2_PARAMS.parallelism ||
          o.outputLen !== OUTPUT_LENGTH
        );
      } catch {
        return true;
      }
    },
  };
}
