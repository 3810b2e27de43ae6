import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** The server under test, as its own process: `node src/main.ts serve` in production mode. */
export type ServerChild = {
  pid: number;
  url: string;
  /** The last lines it wrote (pino JSON at LOG_LEVEL=warn, or a crash). */
  output(): string[];
  /** Lines at warn or above that it wrote since the start. */
  warnings(): number;
  exited(): boolean;
  /** SIGTERM (the server finishes requests in flight), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startServer(options: {
  root: string;
  nodeBin: string;
  port: number;
  env: Record<string, string>;
  nodeArgs?: string[];
  /** The script and its arguments (default: the Cidadela server, `src/main.ts serve`). */
  command?: string[];
  readyTimeoutMs?: number;
}): Promise<ServerChild> {
  const url = `http://127.0.0.1:${options.port}`;
  const env: Record<string, string> = {};
  // Only what a process needs from the parent, then the server's configuration; nothing else leaks in.
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'UV_THREADPOOL_SIZE'])
    if (process.env[k]) env[k] = process.env[k]!;
  Object.assign(env, {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DEMO: 'off',
    HOST: '127.0.0.1',
    PORT: String(options.port),
    PUBLIC_URL: url,
    RELAY: 'on',
    // As behind the load balancer production runs behind: client addresses come from X-Forwarded-For.
    TRUST_PROXY: 'true',
    ...options.env,
  });
  const child: ChildProcess = spawn(options.nodeBin, [...(options.nodeArgs ?? []), ...(options.command ?? ['src/main.ts', 'serve'])], {
    cwd: options.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let warnings = 0;
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : 0);
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (!line.trim()) continue;
        if (/"level":(4|5|6)0\b/.test(line) || !line.startsWith('{')) warnings++;
        lines.push(line.slice(0, 2000));
        if (lines.length > 200) lines.shift();
      }
    });
  }
  const server: ServerChild = {
    pid: child.pid!,
    url,
    output: () => [...lines],
    warnings: () => warnings,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 15_000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`the server exited (${exitCode}) before it was ready:\n${lines.slice(-30).join('\n')}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return server;
    } catch {}
    if (Date.now() > deadline) {
      await server.stop(2000);
      throw new Error(
        `the server was not ready within ${options.readyTimeoutMs ?? 90_000} ms:\n${lines.slice(-30).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
