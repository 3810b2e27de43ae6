import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerAccountRoutes } from './account/account-routes.ts';
import { createCommandSocket } from './cli/command-socket.ts';
import { ensureAccountService, ensureFirstPartyService } from './account/account-services.ts';
import { pruneAudit } from './console/audit-log.ts';
import { accessMethod, recordAccess } from './console/usage.ts';
import { CONSOLE_CLIENT_ID } from './console/console-auth.ts';
import { registerConsole } from './console/console.ts';
import { registerAdminRoutes } from './admin/admin-routes.ts';
import { registerQueueRoutes } from './admin/queue-routes.ts';
import type { Config } from './config/config.ts';
import { type DatabaseHandle, openDatabase } from './db/database.ts';
import { migrate } from './db/migrator.ts';
import { registerDemoRp } from './demo/demo-rp.ts';
import { seedDemoServices } from './demo/demo-services.ts';
import { amqpQueueDeclarer } from './events/amqp-transport.ts';
import { createEventsRuntime, type EventsRuntime } from './events/events-runtime.ts';
import { registerPollRoutes } from './events/poll-routes.ts';
import { createStreamStore } from './events/stream-store.ts';
import { registerInteractionRoutes } from './flows/interaction-routes.ts';
import { createInteractionKit } from './flows/interaction-kit.ts';
import { createProviderPages } from './flows/provider-pages.ts';
import { createRegistrationFlow } from './flows/registration/registration-flow.ts';
import { createCsrf } from './web/csrf.ts';
import { createI18n, negotiateLocale } from './platform/i18n.ts';
import { createLogger } from './platform/logger.ts';
import { createMetrics } from './platform/metrics.ts';
import { registerOpsRoutes } from './web/ops-routes.ts';
import { createRateLimiter } from './platform/rate-limit.ts';
import { createUiFactory } from './web/request-context.ts';
import { registerHomeRoutes } from './web/home-routes.ts';
import { createServer } from './web/server.ts';
import { OPERATOR_API, registerApiSurface, SERVICE_API } from './web/surfaces.ts';
import { accountKind, claimsFor, createCitizenStore, isForeign } from './identity/citizen-store.ts';
import { createCredentialStore } from './identity/credential-store.ts';
import { createSecurityEvents } from './identity/security-events.ts';
import { createSessionActivity } from './identity/session-activity.ts';
import { consentNeed, createConsentStore, WRITE_SCOPE } from './consent/consent-store.ts';
import { createConsentFlow } from './flows/consent/consent-flow.ts';
import { createTtlCache } from './services/ttl-cache.ts';
import { registerDevOutboxRoutes } from './messaging/dev-outbox-routes.ts';
import { devOutboxTransport, smtpTransport } from './messaging/mail-transports.ts';
import { createMessageDispatcher, type MailTransport, pruneMessages, type SmsTransport } from './messaging/message-queue.ts';
import { devSmsOutbox, httpSmsGateway } from './messaging/sms-transports.ts';
import { createCodeMechanism } from './methods/code/code-mechanism.ts';
import { emailCodeSender } from './methods/email-code/email-code.ts';
import { createPasswordSignIn } from './methods/password/password-sign-in.ts';
import { smsCodeSender } from './methods/sms-code/sms-code.ts';
import { registerRecoveryRoutes } from './flows/recovery/recovery-routes.ts';
import { createRecoveryStore } from './flows/recovery/recovery-store.ts';
import { createRecoveryCodes } from './methods/recovery-codes/recovery-codes.ts';
import { createSecretQuestions } from './methods/secret-question/secret-question.ts';
import { createVerificationStore } from './methods/verifications.ts';
import { createCertificateHandoffs } from './methods/certificate/certificate-handoff.ts';
import { type CertificateLogin, registerCertificateReceiver } from './methods/certificate/certificate-routes.ts';
import { createCertificateRuntime } from './methods/certificate/certificate-runtime.ts';
import { createCertificateSignIn } from './methods/certificate/certificate-sign-in.ts';
import { createCertificateSource } from './methods/certificate/certificate-source.ts';
import { createHttpCrlFetcher } from './methods/certificate/crl-store.ts';
import { createTrustLevels, isLevel, verifiedClaims } from './identity/trust-levels.ts';
import { createAccountSnapshots } from './oidc/account-snapshot.ts';
import { below, requiredLevel } from './methods/assurance.ts';
import { createLoginThrottle, pruneLoginThrottle } from './methods/password/login-throttle.ts';
import { createPasswordHasher } from './methods/password/password-hasher.ts';
import { createPasswordPolicy } from './methods/password/password-policy.ts';
import { pruneExpired } from './oidc/adapter.ts';
import { loadSigningKeys, signingKeysVersion } from './oidc/keys.ts';
import { createOidc, type OidcDeps } from './oidc/provider.ts';
import { createOidcHolder, reloadOnNewKeys } from './oidc/provider-holder.ts';
import { createProviderState } from './oidc/provider-state.ts';
import { createSecrets } from './security/secrets.ts';
import { createTotpCredentials, totpSecondStep } from './methods/totp/totp-credential.ts';
import { recoveryCodeSecondStep } from './methods/recovery-codes/recovery-code-second-step.ts';
import type { TypedSecondStep } from './methods/second-step.ts';
import { registerWebauthnScript } from './web/webauthn-script.ts';
import { createPasskeyStore } from './methods/passkey/passkey-store.ts';
import { createPasskeyCeremonies } from './methods/passkey/passkey-ceremonies.ts';
import { registerContractRoutes } from './service-api/contract-routes.ts';
import { registerWriteBackRoutes } from './service-api/write-back-routes.ts';
import { contractFor, createServiceStore } from './services/service-store.ts';
import { createAccountActions } from './personal-data.ts';
import { createDeletionRequests } from './identity/deletion-requests.ts';
import { createForeignRegistrationFlow } from './flows/registration/foreign-registration-flow.ts';

const SERVICE_CACHE_MS = 5_000;

export type AppOptions = {
  /** An already open database (tests share a template); otherwise opened from config. */
  database?: DatabaseHandle;
  logger?: Logger;
  mailTransport?: MailTransport;
  smsTransport?: SmsTransport;
  /** How long service settings are cached in this process (tests set 0 to see changes at once). */
  serviceCacheMs?: number;
};

export type App = {
  server: FastifyInstance;
  database: DatabaseHandle;
  config: Config;
  /** Listens on config.port (0: a free port) and returns the address. */
  listen(): Promise<string>;
  /** Stops taking requests, finishes those in flight, stops workers, closes the database. */
  close(): Promise<void>;
  sendPendingMail(): Promise<number>;
  /** Removes what has expired (provider state, old throttle rows, sent messages); run every 10 minutes. */
  prune(): Promise<void>;
  /** Purges the accounts whose deletion grace period is over (at listen() and with every prune); how many. */
  purgeDueDeletions(): Promise<number>;
  /** The event relay and SET signer (the relay runs on listen() when RELAY=on). */
  events: EventsRuntime;
  /** The certificate listener's address once listening (https://host:port), when configured. */
  certificateAddress(): string | undefined;
};

/** The composition root: builds every part from the configuration, in dependency order. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel, undefined, config.logFormat);
  const database =
    options.database ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  const { db } = database;
  await migrate(db);

  const secure = config.publicUrl.startsWith('https:');
  const secrets = createSecrets(config.secretKey);
  const i18n = createI18n();
  const metrics = createMetrics();
  const csrf = createCsrf(secrets.cookieKeys[0]!, secure);
  const ui = createUiFactory(i18n, csrf, secure, config.brand);

  // The only way identity, consent and services change what the provider stores.
  const providerState = createProviderState();
  const citizens = createCitizenStore(db);
  const credentials = createCredentialStore(db);
  const services = createServiceStore(db, { provider: providerState });
  const hasher = createPasswordHasher();
  const policy = createPasswordPolicy();
  const throttle = createLoginThrottle(db);
  const passwordSignIn = createPasswordSignIn({ citizens, credentials, hasher, throttle, secrets, metrics: metrics.login });
  const rateLimiter = createRateLimiter(db);
  const codes = createCodeMechanism({
    db,
    secrets,
    limiter: rateLimiter,
    senders: { email: emailCodeSender({ publicUrl: config.publicUrl }), sms: smsCodeSender({ host: new URL(config.publicUrl).host }) },
    metrics: metrics.codes,
    smsCountries: config.smsCountries,
  });
  const verifications = createVerificationStore(db);
  const securityEvents = createSecurityEvents(db);
  const sessionActivity = createSessionActivity(db);
  const accounts = createAccountActions(db, providerState);
  const deletions = createDeletionRequests(db, { graceDays: config.accountDeletionGraceDays });
  const registration = createRegistrationFlow({
    db,
    citizens,
    hasher,
    policy,
    codes,
    verifications,
    releaseUnconfirmed: (trx, citizenId) => accounts.purgeIn(trx, citizenId),
  });

  const transport =
    options.mailTransport ?? (config.smtpUrl ? smtpTransport(config.smtpUrl, config.mailFrom) : devOutboxTransport(config.dataDir));
  const mail = createMessageDispatcher({
    db,
    transport,
    sms:
      options.smsTransport ??
      (config.smsGatewayUrl ? httpSmsGateway(config.smsGatewayUrl, config.smsGatewayToken) : devSmsOutbox(config.dataDir)),
    // The SMTP server's message may quote the recipient's address: log only its codes.
    onError: (error) => {
      const e = error as { code?: string; responseCode?: number; name?: string };
      logger.warn({ err: { name: e.name, code: e.code, responseCode: e.responseCode } }, 'message delivery failed; will retry');
    },
  });

  const consents = createConsentStore(db, { provider: providerState });
  const trust = createTrustLevels(db);
  const snapshots = createAccountSnapshots(db);
  const consent = createConsentFlow({ db, citizens, services, consents });
  // Hot paths (every token, userinfo and authorization) read services through a short cache;
  // a change made on another server copy is seen within SERVICE_CACHE_MS.
  const cachedService = createTtlCache(options.serviceCacheMs ?? SERVICE_CACHE_MS, (clientId: string) => services.find(clientId));
  // oidc-provider looks its client up on every authorization, token, userinfo and introspection
  // request (docs/benchmarks.md): the same cache, so a new secret or redirect URI is also seen
  // within SERVICE_CACHE_MS.
  const cachedClientMetadata = createTtlCache(
    options.serviceCacheMs ?? SERVICE_CACHE_MS,
    (clientId: string) => services.clientMetadata(clientId),
  );

  // Rotated keys sign once every copy has had two polls to publish them (see oidc/keys.ts). The
  // version is read before the keys, so a rotation in between is seen at the next poll.
  const keyOptions = { signAfterSeconds: 2 * config.keysReloadSeconds };
  const keysVersion = await signingKeysVersion(db, keyOptions);
  const keys = await loadSigningKeys(db, secrets, keyOptions);
  const oidcDeps: OidcDeps = {
    issuer: config.publicUrl,
    db,
    keys,
    cookieKeys: secrets.cookieKeys,
    secure,
    trustProxy: config.trustProxy,
    services: { ...services, clientMetadata: cachedClientMetadata },
    // The citizen, consent and verified fields in one statement, shared by the consent check and
    // the claims of one request (oidc/account-snapshot.ts); every request reads them afresh.
    async releasedClaims(accountId, clientId, request) {
      const [service, snapshot] = await Promise.all([
        clientId ? cachedService(clientId) : undefined,
        snapshots.get(accountId, clientId, request),
      ]);
      const citizen = snapshot?.citizen;
      if (!citizen || citizen.status !== 'active') return undefined;
      if (!clientId || !service) return { sub: citizen.id };
      if (service.firstParty) return claimsFor(citizen, ['name', 'social_name', 'email']);
      const current = snapshot.consent;
      // Only what the citizen consented to share and the contract (for this kind of account) still lists.
      const contract = new Set(contractFor(service.fields, accountKind(citizen)).map((f) => f.key));
      const shared = (current?.fieldsShared ?? []).filter((k) => contract.has(k));
      const claims = claimsFor(citizen, shared);
      const verified = verifiedClaims(claims, shared, snapshot.verifications);
      return verified ? { ...claims, verified_claims: verified } : claims;
    },
    async levelTooLow(sessionAcr, clientId, acrValues, sessionAmr = []) {
      const service = await cachedService(clientId);
      // A session without a second step (a certificate counts as one) does not open a service that
      // requires one: log in again.
      if (service?.requireSecondFactor && !sessionAmr.some((v) => v === 'mfa' || v === 'hwk' || v === 'swk')) return true;
      const required = requiredLevel(service?.minTrustLevel ?? 'bronze', acrValues);
      return below(isLevel(sessionAcr) ? sessionAcr : 'bronze', required);
    },
    async consentNeeded(accountId, clientId, scopes, request) {
      const [service, snapshot] = await Promise.all([cachedService(clientId), snapshots.get(accountId, clientId, request)]);
      const citizen = snapshot?.citizen;
      if (!service || !citizen) return true;
      // A foreign account at a service that does not (or no longer) accepts foreigners goes through
      // the consent step, where it is refused: never a silent sign-in.
      if (isForeign(citizen) && !service.acceptsForeigners && !service.firstParty) return true;
      const fields = contractFor(service.fields, accountKind(citizen));
      return consentNeed({ ...service, fields }, snapshot.consent, [...scopes].includes(WRITE_SCOPE)).needed;
    },
    pages: createProviderPages(i18n, config.brand),
    onAuthorization: (use) => {
      sessionActivity.touch(use).catch((error) => logger.warn({ err: { message: (error as Error).message } }, 'session use not recorded'));
      // Usage reports: one upsert per access, after the response; a failure costs a count, not a sign-in.
      recordAccess(db, { citizenId: use.accountId, clientId: use.clientId, method: accessMethod(use.amr, use.authTime) }).catch((error: Error) =>
        logger.warn({ err: { message: error.message } }, 'usage count failed'),
      );
    },
    onError: (error, route) => {
      const e = error as Error & { status?: number; error?: string };
      if ((e.status ?? 500) >= 500) logger.error({ err: { message: e.message, stack: e.stack }, route }, 'oidc error');
      else logger.info({ oidcError: e.error ?? e.message, route }, 'oidc request refused');
    },
  };
  const provider = createOidcHolder(createOidc(oidcDeps));
  const oidc = provider.oidc;
  const keyReload = reloadOnNewKeys({
    holder: provider,
    intervalMs: config.keysReloadSeconds * 1000,
    loadedVersion: keysVersion,
    version: () => signingKeysVersion(db, keyOptions),
    load: () => loadSigningKeys(db, secrets, keyOptions),
    build: (next) => createOidc({ ...oidcDeps, keys: next }),
    async onReload(next) {
      // Events are signed with the provider's keys too (services verify them with its JWKS).
      await events.useKeys(next);
      logger.info({ kids: next.map((k) => k.kid) }, 'signing keys changed: provider rebuilt with them');
    },
    onError: (error) => logger.warn({ err: { message: error.message } }, 'signing key check failed; will retry'),
  });

  let draining = false;
  const server = await createServer({
    logger,
    metrics,
    csrf,
    ui,
    secure,
    trustProxy: config.trustProxy,
    cookieSecret: secrets.cookieKeys[0]!,
    providerPrefixes: ['/oidc/', '/.well-known/'],
    providerHandler: (req, res) => oidc.handle(req, res),
  });

  registerOpsRoutes(server, { metrics, ping: database.ping, draining: () => draining });

  // Certificate sign-in (docs/certificates.md): its own TLS listener, or a trusted proxy's header.
  const certificateSignIn = createCertificateSignIn({
    db,
    citizens,
    verifications,
    trust,
    // A certificate that proves a CPF another account squatted (identity/cpf-claims.ts).
    claims: {
      disableIn: (trx, citizenId) => accounts.disableIn(trx, citizenId),
      translator: (locale) => i18n.translator(negotiateLocale([locale ?? undefined], undefined)),
      smsCountries: config.smsCountries,
      publicUrl: config.publicUrl,
    },
  });
  const handoffs = createCertificateHandoffs({ db, secrets });
  let certificate: CertificateLogin | undefined;
  let certificateServer: FastifyInstance | undefined;
  if (config.certificate) {
    const settings = config.certificate;
    const log = logger.child({ part: 'certificate' });
    const runtime = await createCertificateRuntime({
      trustDir: settings.trustDir,
      crlDir: settings.crlDir,
      graceSeconds: settings.graceSeconds,
      refreshSeconds: settings.refreshSeconds,
      fetcher: settings.fetchCrls ? createHttpCrlFetcher() : null,
      log,
    });
    certificate = {
      settings,
      publicUrl: config.publicUrl,
      runtime,
      handoffs,
      source: createCertificateSource(settings.proxy),
      signIn: certificateSignIn,
      ui,
      log,
    };
    if (settings.listener) {
      certificateServer = await createServer({
        logger,
        metrics,
        csrf,
        ui,
        secure: true,
        trustProxy: false,
        cookieSecret: secrets.cookieKeys[0]!,
        providerPrefixes: [],
        providerHandler: () => {},
        // The certificate is asked for but not verified by OpenSSL: our validator decides, so a
        // refused certificate gets a page that says why instead of a failed handshake.
        https: {
          cert: readFileSync(settings.listener.certFile),
          key: readFileSync(settings.listener.keyFile),
          requestCert: true,
          rejectUnauthorized: false,
        },
      });
      registerCertificateReceiver(certificateServer, certificate);
    }
  }

  // Second factors: the authenticator app's codes (more typed steps, such as saved recovery codes, join the list).
  const totp = createTotpCredentials({ db, secrets, rateLimiter });
  const recoveryCodes = createRecoveryCodes({ db, secrets });
  const secondSteps: TypedSecondStep[] = [totpSecondStep(totp, db), recoveryCodeSecondStep(recoveryCodes, rateLimiter)];
  const passkeyStore = createPasskeyStore(db);
  const passkeys = createPasskeyCeremonies({ publicUrl: config.publicUrl, store: passkeyStore });
  const translatorFor = (citizen: { locale: string | null }) => {
    const locale = negotiateLocale([citizen.locale ?? undefined], undefined);
    return { t: i18n.translator(locale), locale };
  };
  const kit = createInteractionKit({ db, oidc, ui, services, cachedService, citizens, verifications, securityEvents, certificateLogin: Boolean(certificate), translator: (locale) => i18n.translator(locale) });
  registerInteractionRoutes(server, {
    kit,
    oidc,
    codes,
    registration,
    foreign: createForeignRegistrationFlow({
      db,
      citizens,
      hasher,
      policy,
      codes,
      verifications,
      smsCountries: config.smsCountries,
      translator: (locale) => i18n.translator(locale),
    }),
    consent,
    rateLimiter,
    passwordSignIn,
    passwordPolicy: policy,
    certificate,
    mailQueued: () => mail.nudge(),
    secondStep: { citizens, steps: secondSteps, totp, hasPasskey: async (id) => (await passkeyStore.list(id)).length > 0, translatorFor },
    passkeys,
  });
  const recoveries = createRecoveryStore(db);
  const secretQuestions = createSecretQuestions({ credentials, hasher });
  registerRecoveryRoutes(server, {
    db,
    ui,
    kit,
    citizens,
    credentials,
    codes,
    hasher,
    policy,
    rateLimiter,
    secure,
    secrets,
    provider: providerState,
    recoveries,
    secretQuestions,
    recoveryCodes,
    secretQuestionOn: config.recoverySecretQuestion,
    securityEvents,
    backchannelLogout: (accountId, logouts) => oidc.backchannelLogout(accountId, logouts),
    publicUrl: config.publicUrl,
    smsCountries: config.smsCountries,
    translatorFor,
    mailQueued: () => mail.nudge(),
    secondSteps,
  });
  // Events: per-service queues (relay), the poll endpoint, write-back, the operator's queue view.
  const events = await createEventsRuntime({ db, kind: database.kind, config, keys, logger, listen: database.listen });
  const streams = createStreamStore(db, { amqpQueues: amqpQueueDeclarer(config.amqpUrl) });
  await registerApiSurface(server, OPERATOR_API, (api) => {
    registerAdminRoutes(api, { adminToken: config.adminToken, services, db });
    registerQueueRoutes(api, { adminToken: config.adminToken, streams, amqpUrl: config.amqpUrl, amqpManagementUrl: config.amqpManagementUrl });
  });
  await registerApiSurface(server, SERVICE_API, (api) => {
    registerPollRoutes(api, { db, services, streams, signer: events.signer, closing: () => draining, listen: database.listen });
    registerWriteBackRoutes(api, {
      db,
      oidc,
      services,
      citizens,
      consents,
      codes,
      translator: (locale) => i18n.translator(negotiateLocale([locale ?? undefined], undefined)),
      smsCountries: config.smsCountries,
      messageQueued: () => mail.nudge(),
    });
  });
  registerContractRoutes(server, { adminApi: Boolean(config.adminToken) });
  await ensureAccountService({ db, services, publicUrl: config.publicUrl });
  registerAccountRoutes(server, {
    db,
    oidc,
    ui,
    issuer: config.publicUrl,
    citizens,
    consents,
    codes,
    rateLimiter,
    passwordSignIn,
    deletions,
    mailQueued: () => mail.nudge(),
    translator: (locale) => i18n.translator(negotiateLocale([locale ?? undefined], undefined)),
    recoverySettings: { secretQuestions, recoveryCodes, recoveries, secretQuestionOn: config.recoverySecretQuestion },
    security: {
      credentials,
      hasher,
      policy,
      securityEvents,
      sessionActivity,
      provider: providerState,
      backchannelLogout: (accountId, logouts) => oidc.backchannelLogout(accountId, logouts),
      translatorFor,
    },
    totp,
    passkeys,
    passkeyStore,
    translatorFor,
  });
  await ensureFirstPartyService(
    { db, services, publicUrl: config.publicUrl },
    { clientId: CONSOLE_CLIENT_ID, name: 'Cidadela — console', description: 'O console dos operadores da Cidadela.', callbackPath: '/admin/callback', signedOutPath: '/admin/saiu' },
  );
  registerConsole(server, { db, oidc, ui, issuer: config.publicUrl, citizens, consents, lifecycle: accounts, services, streams, policy: config.console });
  registerWebauthnScript(server);
  if (config.env !== 'production' && !config.smtpUrl) registerDevOutboxRoutes(server, { db, ui });
  if (config.demo) {
    await seedDemoServices({ db, services, secrets, publicUrl: config.publicUrl });
    registerDemoRp(server, { issuer: config.publicUrl, secrets, ui, secure });
  }
  registerHomeRoutes(server, { ui, brand: config.brand, demo: config.demo, publicServices: () => services.publicServices() });

  const prune = async () => {
    await Promise.all([pruneExpired(db), verifications.prune(), handoffs.prune(), certificateSignIn.prune()]);
    await pruneLoginThrottle(db);
    await pruneMessages(db, config.messages.retentionDays);
    await pruneAudit(db, config.console.auditRetentionDays);
    await sessionActivity.prune();
    await purgeDueDeletions();
  };
  // Accounts whose grace period ended while no server ran go at start, then with every prune.
  const purgeDueDeletions = () => deletions.purgeDue(accounts.purgeIn);
  const pruneTimer = setInterval(() => {
    prune().catch((error) => logger.warn({ err: { message: error.message } }, 'prune failed'));
  }, 10 * 60 * 1000);
  pruneTimer.unref();

  // On the embedded database this process is the only one in DATA_DIR: `cidadela` commands come through it.
  const commands = database.dataDir ? createCommandSocket({ dataDir: database.dataDir, db, config, logger }) : undefined;
  let closed = false;
  return {
    server,
    database,
    config,
    async listen() {
      await server.listen({ port: config.port, host: config.host });
      if (certificate) await certificate.runtime.start();
      if (certificateServer && config.certificate?.listener) {
        await certificateServer.listen({ port: config.certificate.listener.port, host: config.host });
      }
      await commands?.listen();
      await purgeDueDeletions();
      mail.start();
      if (config.relay) events.relay.start();
      if (config.keysReloadSeconds > 0) keyReload.start();
      const address = server.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      return `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    },
    async close() {
      if (closed) return;
      closed = true;
      draining = true;
      clearInterval(pruneTimer);
      await commands?.close();
      await server.close();
      certificate?.runtime.stop();
      await certificateServer?.close();
      await keyReload.stop();
      await mail.stop();
      await events.close();
      if (!options.database) await database.close();
    },
    sendPendingMail: () => mail.runOnce(),
    prune,
    purgeDueDeletions,
    events,
    certificateAddress() {
      const address = certificateServer?.server.address();
      return typeof address === 'object' && address ? `https://127.0.0.1:${address.port}` : undefined;
    },
  };
}
