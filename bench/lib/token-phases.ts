import type { PhaseSpec } from './load.ts';
import type { LoginResult, Rp, Tokens } from './oidc.ts';

type Load = Pick<PhaseSpec, 'op' | 'requestsPerOp'>;

/**
 * The SSO, refresh and userinfo loads over a set of signed-in browsers, the same for Cidadela and
 * for the peer. Each worker owns the sessions whose index ≡ worker (mod concurrency), so no session
 * or refresh chain is used twice at once; refresh chains start from the SSO phase's last tokens and
 * rotate; userinfo uses the chains' latest access tokens.
 */
export function tokenLoads(rp: Rp, sessions: LoginResult[], concurrency: { sso: number; refresh: number }) {
  const latest: Tokens[] = sessions.map((s) => ({
    accessToken: s.accessToken,
    refreshToken: s.refreshToken,
    sub: s.sub,
  }));
  const owned = (worker: number, c: number, iteration: number, n: number) => {
    const mine = Math.ceil((n - worker) / c);
    return worker + (iteration % Math.max(1, mine)) * c;
  };
  return {
    sso(): Load {
      const c = concurrency.sso;
      if (sessions.length < c)
        throw new Error(`--pool (${sessions.length}) must be at least --concurrency-sso (${c})`);
      return {
        requestsPerOp: 2,
        op: async (w, i) => {
          const idx = owned(w, c, i, sessions.length);
          latest[idx] = await rp.ssoLogin(sessions[idx]!.jar);
        },
      };
    },
    refresh(): Load {
      const c = concurrency.refresh;
      if (latest.length < c)
        throw new Error(`--pool (${latest.length}) must be at least --concurrency-refresh (${c})`);
      const dead = new Set<number>();
      return {
        op: async (w, i) => {
          let idx = owned(w, c, i, latest.length);
          for (let tries = 0; dead.has(idx) && tries < latest.length; tries++)
            idx = owned(w, c, i + tries + 1, latest.length);
          if (dead.has(idx)) throw new Error('every refresh chain of this worker is broken');
          try {
            // Rotation: each refresh uses the token the previous refresh of this chain returned.
            latest[idx] = await rp.refresh(latest[idx]!.refreshToken);
          } catch (error) {
            dead.add(idx);
            throw error;
          }
        },
      };
    },
    userinfo(): Load {
      const tokens = latest.slice();
      return {
        op: async (w, i) => {
          const t = tokens[(w + i * 7) % tokens.length]!;
          await rp.userinfo(t.accessToken, t.sub);
        },
      };
    },
  };
}
