import { parseArgs } from 'node:util';
import type { Db } from '../db/database.ts';
import { createOperatorStore, isRole, ROLES } from '../console/operator-store.ts';
import { createCitizenStore } from '../identity/citizen-store.ts';
import type { Out } from './commands.ts';

export const OPERATOR_USAGE = `cidadela operator <command>

  grant  <cpf-or-id> --role admin|attendant|auditor   lets the account open the console (/admin) with that role
  revoke <cpf-or-id> --role admin|attendant|auditor   takes the role away
  list [--json]                                       every operator and role

  admin: services, usage reports; attendant: the support desk and in-person verification;
  auditor: the audit log and usage reports, read only. Each grant and revocation is audited.
  <cpf-or-id>: the citizen's id (the OIDC sub), CPF, e-mail or mobile number (+country)`;

/** Runs `cidadela operator ...`; returns the process exit code. */
export async function operatorCommand(args: string[], db: Db, out: Out): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { role: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${OPERATOR_USAGE}`);
    return 2;
  }
  const [command, identifier] = parsed.positionals;
  const operators = createOperatorStore(db);
  if (command === 'list' && !identifier) {
    const rows = await operators.list();
    if (parsed.values.json) {
      out.log(JSON.stringify({ operators: rows.map((r) => ({ id: r.citizenId, name: r.name, role: r.role, status: r.status, grantedAt: r.grantedAt.toISOString(), grantedBy: r.grantedBy })) }));
    } else if (rows.length === 0) {
      out.log('no operators; grant a role with `cidadela operator grant <cpf> --role admin`');
    } else {
      for (const r of rows) out.log(`${r.citizenId}\t${r.role}\t${r.name}${r.status === 'active' ? '' : `\t(${r.status})`}`);
    }
    return 0;
  }
  if ((command !== 'grant' && command !== 'revoke') || !identifier || parsed.positionals.length > 2) {
    out.error(OPERATOR_USAGE);
    return 2;
  }
  const role = parsed.values.role;
  if (!isRole(role)) {
    out.error(`error: --role must be one of ${ROLES.join(', ')}\n\n${OPERATOR_USAGE}`);
    return 2;
  }
  const citizens = createCitizenStore(db);
  const citizen = (await citizens.findById(identifier)) ?? (await citizens.findByIdentifier(identifier));
  if (!citizen || citizen.status === 'deleted') {
    out.error('error: no such citizen');
    return 1;
  }
  if (command === 'grant') {
    if (citizen.status !== 'active') {
      out.error(`error: account ${citizen.id} is ${citizen.status}; enable it first`);
      return 1;
    }
    const added = await operators.grant(citizen.id, role, 'cli');
    out.log(added ? `${citizen.id} is now ${role}` : `${citizen.id} was already ${role}`);
    return 0;
  }
  const removed = await operators.revoke(citizen.id, role, 'cli');
  out.log(removed ? `${citizen.id} is no longer ${role}` : `${citizen.id} was not ${role}`);
  return 0;
}
