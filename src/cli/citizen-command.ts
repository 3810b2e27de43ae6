import { parseArgs } from 'node:util';
import type { Db } from '../db/database.ts';
import { createCitizenStore } from '../identity/citizen-store.ts';
import { createAccountActions } from '../personal-data.ts';
import { recordAudit } from '../console/audit-log.ts';

export const CITIZEN_USAGE = `cidadela citizen <command> <id-or-cpf>

  disable <id-or-cpf>        no login; sessions and tokens end; services receive account-disabled
  enable  <id-or-cpf>        undoes disable; services receive account-enabled
  delete  <id-or-cpf> --yes  purges the personal data (irreversible; a tombstone keeps the id);
                             services receive account-purged

  <id-or-cpf>: the citizen's id (the OIDC sub), CPF, e-mail or mobile number (+country)`;

type Out = { log(line: string): void; error(line: string): void };

/** Runs `cidadela citizen ...`; returns the process exit code. */
export async function citizenCommand(args: string[], db: Db, out: Out): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: { yes: { type: 'boolean' } }; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args, options: { yes: { type: 'boolean' } }, allowPositionals: true });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${CITIZEN_USAGE}`);
    return 2;
  }
  const [command, identifier] = parsed.positionals;
  if (!command || !identifier || !['disable', 'enable', 'delete'].includes(command)) {
    out.error(CITIZEN_USAGE);
    return 2;
  }
  const citizens = createCitizenStore(db);
  const citizen = (await citizens.findById(identifier)) ?? (await citizens.findByIdentifier(identifier));
  if (!citizen || citizen.status === 'deleted') {
    out.error('error: no such citizen');
    return 1;
  }
  const lifecycle = createAccountActions(db);
  if (command === 'delete' && !parsed.values.yes) {
    out.error(`deleting purges the personal data of ${citizen.id} and cannot be undone; repeat with --yes`);
    return 2;
  }
  const audit = (kind: string) => (trx: Db) => recordAudit(trx, { actor: 'cli', kind, citizenId: citizen.id });
  const result =
    command === 'disable'
      ? await lifecycle.disable(citizen.id, audit('account.disabled'))
      : command === 'enable'
        ? await lifecycle.enable(citizen.id, audit('account.enabled'))
        : await lifecycle.purge(citizen.id, audit('account.deleted'));
  const done = { disable: 'disabled', enable: 'enabled', delete: 'deleted' }[
    command as 'disable' | 'enable' | 'delete'
  ];
  if (result === 'not_found') {
    out.error('error: no such citizen');
    return 1;
  }
  out.log(
    result === 'unchanged' ? `citizen ${citizen.id} was already ${done}` : `citizen ${citizen.id} ${done}`,
  );
  return 0;
}
