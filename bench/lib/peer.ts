import { randomBytes } from 'node:crypto';
import { createHttp, type Http } from './http.ts';
import { createRp, type LoginResult, type Rp } from './oidc.ts';
import { freePort, type ServerChild, startServer } from './server.ts';

/** The peer (bench/peer/server.ts) as its own process on another loopback port, with its client. */
export type Peer = { child: ServerChild; http: Http; rp: Rp };

export async function startPeer(options: {
  root: string;
  nodeBin: string;
  redirectUri: string;
  sockets: number;
}): Promise<Peer> {
  const port = await freePort();
  const clientId = 'peer-bench-client';
  const clientSecret = randomBytes(24).toString('base64url');
  const child = await startServer({
    root: options.root,
    nodeBin: options.nodeBin,
    port,
    command: ['bench/peer/server.ts'],
    env: { CLIENT_ID: clientId, CLIENT_SECRET: clientSecret, REDIRECT_URI: options.redirectUri },
  });
  const http = createHttp(child.url, options.sockets);
  const rp = createRp(http, { issuer: child.url, clientId, clientSecret, redirectUri: options.redirectUri });
  return { child, http, rp };
}

/** Browsers with a session at the peer (its minimal interaction), `count` of them, `concurrency` at a time. */
export async function peerSessions(peer: Peer, count: number, concurrency: number): Promise<LoginResult[]> {
  const sessions: LoginResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) sessions.push(await peer.rp.minimalLogin());
    }),
  );
  return sessions;
}
