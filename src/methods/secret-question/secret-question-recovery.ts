import type { TypedRecoveryStrategy } from '../recovery-strategy.ts';

/**
 * The secret question with the record's birth date and mother's name, on one page: offered to
 * everyone while the deployment allows it (RECOVERY_SECRET_QUESTION), decision 22.
 */
export const secretQuestionRecovery: TypedRecoveryStrategy = {
  kind: 'secret_question',
  label: 'recovery.way.secret_question',
};
