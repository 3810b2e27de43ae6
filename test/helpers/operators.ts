import type { Db } from '../../src/db/database.ts';
import { createOperatorStore, type Role } from '../../src/console/operator-store.ts';
import { createTrustLevels, type Level } from '../../src/identity/trust-levels.ts';
import { seedCitizen } from './citizens.ts';
import { formAction, type Page, UserAgent } from './user-agent.ts';

/** A citizen holding console roles, at `level` (prata unless said: the console's default minimum). */
export async function seedOperator(db: Db, roles: Role[], level: Level = 'prata') {
  const citizen = await seedCitizen(db);
  if (level !== 'bronze') await db.transaction().execute((trx) => createTrustLevels(trx).setLevel(trx, citizen.id, level, 'test'));
  const operators = createOperatorStore(db);
  for (const role of roles) await operators.grant(citizen.id, role, 'cli');
  return citizen;
}

/** Opens /admin and signs in through the provider's login page with the password; returns the page shown after. */
export async function consoleSignIn(appUrl: string, who: { cpf: string; password: string }, ua = new UserAgent({ 'accept-language': 'pt-BR' })): Promise<{ ua: UserAgent; page: Page }> {
  const login = await ua.get(`${appUrl}/admin`);
  if (!login.html.includes('name="password"')) return { ua, page: login };
  const page = await ua.post(formAction(login, '/login'), { identifier: who.cpf, password: who.password });
  return { ua, page };
}
