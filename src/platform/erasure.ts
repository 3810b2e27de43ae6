import type { Db } from '../db/database.ts';

/**
 * How one module forgets a citizen whose account is deleted (LGPD art. 18 VI). Each module that
 * keeps personal data exports its own, declaring per table what it does there, so that a table
 * added later without an eraser is caught by a test (test/account/erasure.test.ts) instead of
 * surviving a deletion.
 */
export type Eraser = {
  /** The module, as errors and tests name it. */
  name: string;
  /** The tables it clears: `deleted` (the citizen's rows go) or `blanked` (rows stay, personal fields emptied). */
  erases: Record<string, 'deleted' | 'blanked'>;
  /** Tables whose rows for the citizen it keeps on purpose, each with the reason the law gives. */
  retains?: Record<string, string>;
  /** Runs inside the purge's transaction. */
  erase(trx: Db, citizenId: string): Promise<void>;
};

/** Runs every eraser, in the order given (an eraser that reads another module's rows comes first). */
export async function eraseCitizen(trx: Db, erasers: readonly Eraser[], citizenId: string): Promise<void> {
  for (const eraser of erasers) await eraser.erase(trx, citizenId);
}
