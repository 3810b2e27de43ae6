import type { PrivateJwk } from './keys.ts';
import type { Oidc } from './provider.ts';

/**
 * oidc-provider fixes its signing keys when an instance is built, so new keys mean a new instance.
 * Everything that talks to the provider holds `oidc`, which always answers with the current
 * instance; `replace` swaps it. A request already inside the old instance finishes there: sessions,
 * interactions, codes and tokens live in the database, so either instance can take the next step.
 */
export function createOidcHolder(initial: Oidc) {
  let current = initial;
  // A Proxy rather than a hand-written delegate, so whatever provider.ts adds to Oidc is forwarded.
  const oidc = new Proxy(initial, { get: (_target, property) => Reflect.get(current, property, current) });
  return {
    oidc,
    replace(next: Oidc) {
      current = next;
    },
  };
}

export type OidcHolder = ReturnType<typeof createOidcHolder>;

/**
 * Polls the signing keys (`version`, a cheap query) and, when they changed, loads them and swaps in
 * a provider built with them. One check at a time; a failed check is reported and retried at the
 * next tick, the current instance going on meanwhile.
 */
export function reloadOnNewKeys(deps: {
  holder: OidcHolder;
  intervalMs: number;
  /** The version of the keys the current instance was built with. */
  loadedVersion: string;
  version(): Promise<string>;
  load(): Promise<PrivateJwk[]>;
  build(keys: PrivateJwk[]): Oidc;
  /** After the swap, with the keys now in use (others that sign with them follow here). */
  onReload(keys: PrivateJwk[]): void | Promise<void>;
  onError(error: Error): void;
}) {
  let loaded = deps.loadedVersion;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function check(): Promise<void> {
    const version = await deps.version();
    if (version === loaded) return;
    const keys = await deps.load();
    deps.holder.replace(deps.build(keys));
    loaded = version;
    await deps.onReload(keys);
  }

  function tick() {
    running ??= check()
      .catch((error: Error) => deps.onError(error))
      .finally(() => {
        running = undefined;
      });
  }

  return {
    start() {
      timer ??= setInterval(tick, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
