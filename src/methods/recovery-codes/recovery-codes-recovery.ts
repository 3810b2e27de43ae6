import type { TypedRecoveryStrategy } from '../recovery-strategy.ts';

/** One of the saved codes, typed on the recovery page: offered to everyone (decision 22). */
export const recoveryCodesRecovery: TypedRecoveryStrategy = {
  kind: 'recovery_code',
  label: 'recovery.way.recovery_code',
};
