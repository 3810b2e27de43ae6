import type { FastifyInstance } from 'fastify';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import type { AccountLifecycle } from '../identity/account-lifecycle.ts';
import type { CitizenStore } from '../identity/citizen-store.ts';
import type { Level } from '../identity/trust-levels.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { UiFactory } from '../web/request-context.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import { amrHasSecondFactor, createConsoleAuth } from './console-auth.ts';
import { createGuard, registerConsoleRoutes } from './console-routes.ts';
import { createOperatorStore } from './operator-store.ts';
import { createSupportDesk } from './support-desk.ts';
import { registerSupportRoutes } from './support-routes.ts';
import { registerServicesRoutes } from './services-routes.ts';
import { registerReportRoutes } from './report-routes.ts';
import type { ServiceStore } from '../services/service-store.ts';
import type { StreamStore } from '../events/stream-store.ts';

/** The operators' console under /admin (decision 23): its parts, wired from what app.ts built. */
export function registerConsole(
  app: FastifyInstance,
  deps: {
    db: Db;
    oidc: Oidc;
    ui: UiFactory;
    issuer: string;
    citizens: CitizenStore;
    consents: ConsentStore;
    lifecycle: AccountLifecycle;
    services: ServiceStore;
    streams: StreamStore;
    policy: { minAcr: Level; maxAgeSeconds: number; requireMfa: boolean };
  },
) {
  const operators = createOperatorStore(deps.db);
  const auth = createConsoleAuth({
    oidc: deps.oidc,
    citizens: deps.citizens,
    operators,
    issuer: deps.issuer,
    policy: {
      minAcr: deps.policy.minAcr,
      maxAgeSeconds: deps.policy.maxAgeSeconds,
      secondFactor: deps.policy.requireMfa ? amrHasSecondFactor : null,
    },
  });
  const guarded = createGuard({ ui: deps.ui, auth });
  registerConsoleRoutes(app, { ui: deps.ui, guarded, issuer: deps.issuer });
  registerSupportRoutes(app, {
    guarded,
    desk: createSupportDesk({ db: deps.db, citizens: deps.citizens, consents: deps.consents, lifecycle: deps.lifecycle }),
  });
  registerAuditRoutes(app, { db: deps.db, guarded });
  registerServicesRoutes(app, { db: deps.db, guarded, services: deps.services, streams: deps.streams });
  registerReportRoutes(app, { db: deps.db, guarded, services: deps.services });
}
