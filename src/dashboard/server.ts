// The dashboard's HTTP server: JSON API over the runs folder, live metrics by server-sent events, the built app.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpoints, isSafeName, listDataReports, listRuns, readDataReport, readRunDetail } from './runs.js';
import { MetricsTail } from './tail.js';
import { InputError, errorMessage } from '../util/errors.js';

export interface DashboardOptions {
  /** Folder whose sub-folders are runs (metrics.jsonl) and data reports (report.json). */
  runs: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required when `host` is not a loopback address; then every request must carry it. */
  token?: string;
  /** The built web app (default: dist/web beside this module). */
  app?: string;
  /** Milliseconds between looks at a followed metrics file. */
  pollMs?: number;
}

export interface Dashboard {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8765;
export const TOKEN_ENV = 'FURNACE_DASHBOARD_TOKEN';

/** A bind address that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Thrown when the options would expose the runs folder without a token. */
export class InsecureBindError extends InputError {
  override readonly name = 'InsecureBindError';
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.jsonl': 'application/x-ndjson; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json',
};

function decoded(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The file under `root` that the URL path segments name, or undefined (outside root, missing, not a file). */
export function confine(root: string, relative: string): string | undefined {
  if (relative.includes('\0')) return undefined;
  const base = resolve(root);
  const p = resolve(base, '.' + sep + relative);
  if (p !== base && !p.startsWith(base + sep)) return undefined;
  try {
    // Symbolic links must not lead out of the folder either.
    const real = realpathSync(p), realBase = realpathSync(base);
    if (real !== realBase && !real.startsWith(realBase + sep)) return undefined;
    return statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** What every request handler reads: the folders, the token and the open event streams. */
interface ServerContext {
  runs: string;
  app: string;
  pollMs: number;
  /** The token and its digest, or undefined when the server is loopback-only without one. */
  token: string | undefined;
  want: Buffer | undefined;
  /** Cookies are not kept apart by port: the name carries it, so another local server never receives this token. */
  cookieName: string;
  streams: Set<ServerResponse>;
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token === '' ? undefined : opts.token;
  if (!isLoopback(host) && token === undefined) {
    throw new InsecureBindError(`--host ${host}: binding a non-loopback address needs --token (or ${TOKEN_ENV}); every request must then carry it`);
  }
  const ctx: ServerContext = {
    runs: resolve(opts.runs), app: resolve(opts.app ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'web')),
    pollMs: opts.pollMs ?? 250, token, want: token === undefined ? undefined : digest(token),
    cookieName: 'furnace_token', streams: new Set<ServerResponse>(),
  };
  const server: Server = createServer((req, res) => {
    handle(ctx, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: errorMessage(e) });
      else res.end();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.cookieName = `furnace_token_${port}`;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`, host, port,
    close: () => new Promise<void>((ok) => {
      for (const s of ctx.streams) s.end();
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

/** Whether the request carries the token: in a header or cookie ('ok'), only in the query ('query': set the cookie), or not ('no'). */
function authorized(ctx: ServerContext, req: IncomingMessage, url: URL): 'ok' | 'query' | 'no' {
  const want = ctx.want;
  if (want === undefined) return 'ok';
  const auth = req.headers['authorization'];
  const header = req.headers['x-furnace-token'];
  const cookie = (req.headers['cookie'] ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${ctx.cookieName}=`));
  const offered: [string | undefined, 'ok' | 'query'][] = [
    [typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined, 'ok'],
    [typeof header === 'string' ? header : undefined, 'ok'],
    [cookie === undefined ? undefined : decoded(cookie.slice(ctx.cookieName.length + 1)), 'ok'],
    [url.searchParams.get('token') ?? undefined, 'query'],
  ];
  for (const [t, how] of offered) if (t !== undefined && timingSafeEqual(digest(t), want)) return how;
  return 'no';
}

/** One request: the host and token checks, then the API, the runs folder's files, or the app. */
async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://dashboard');
  } catch {
    return send(res, 400, { error: 'bad request' });
  }
  // Without a token only pages this machine names as local may talk to us (no DNS rebinding).
  const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (ctx.want === undefined && !isLoopback(hostHeader)) return send(res, 403, { error: `host '${hostHeader}' is not a loopback name` });
  const auth = authorized(ctx, req, url);
  if (auth === 'no') return send(res, 401, { error: 'missing or wrong token (send it as Authorization: Bearer T, X-Furnace-Token, or ?token=T)' });
  if (auth === 'query') res.setHeader('Set-Cookie', `${ctx.cookieName}=${encodeURIComponent(ctx.token!)}; HttpOnly; SameSite=Strict; Path=/`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return send(res, 404, { error: 'not found' });
  }
  const parts = path.split('/').filter((s) => s !== '');
  if (parts[0] === 'api') return api(ctx, parts.slice(1), url, req, res);
  // Files of the runs folder are the user's data, not the app: a sandbox keeps any HTML among them away from the API.
  if (parts[0] === 'files') return file(res, confine(ctx.runs, parts.slice(1).join('/')), 'sandbox allow-scripts');
  return file(res, confine(ctx.app, parts.length === 0 ? 'index.html' : parts.join('/')));
}

/** /api/...: runs, a run's detail, checkpoints and live events, data reports. */
async function api(ctx: ServerContext, p: string[], url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const runs = ctx.runs;
  if (p[0] === 'runs' && p.length === 1) return send(res, 200, listRuns(runs));
  if (p[0] === 'runs' && p.length >= 2 && isSafeName(p[1]!)) {
    const name = p[1]!;
    if (p.length === 2) {
      const d = readRunDetail(runs, name);
      return d === undefined ? send(res, 404, { error: `no run '${name}'` }) : send(res, 200, d);
    }
    if (p.length === 3 && p[2] === 'checkpoints' && existsSync(join(runs, name, 'metrics.jsonl'))) {
      return send(res, 200, await checkpoints(join(runs, name)));
    }
    if (p.length === 3 && p[2] === 'events' && existsSync(join(runs, name, 'metrics.jsonl'))) {
      const from = Number(req.headers['last-event-id'] ?? url.searchParams.get('from') ?? 0);
      return events(ctx, res, name, Number.isSafeInteger(from) && from >= 0 ? from : 0);
    }
  }
  if (p[0] === 'data' && p.length === 1) return send(res, 200, listDataReports(runs));
  if (p[0] === 'data' && p.length === 2) {
    const r = readDataReport(runs, p[1]!);
    return r === undefined ? send(res, 404, { error: `no data report '${p[1]}'` }) : send(res, 200, r);
  }
  return send(res, 404, { error: 'not found' });
}

/** Server-sent events: `metrics` with the records after the first `from` (id = records sent so far),
 * `reset` when the file restarts, `status` when summary.json appears. */
function events(ctx: ServerContext, res: ServerResponse, name: string, from: number): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  ctx.streams.add(res);
  const dir = join(ctx.runs, name);
  const tail = new MetricsTail(join(dir, 'metrics.jsonl'));
  let done = false, quiet = 0;
  const tick = () => {
    const { records, reset } = tail.read();
    if (reset) {
      // The file was rewritten (a run restarted into the folder): the client starts again from nothing.
      from = 0;
      res.write(`event: reset\ndata: {}\n\n`);
    }
    const before = tail.count - records.length;
    const fresh = records.slice(Math.max(0, from - before));
    if (fresh.length > 0) res.write(`id: ${tail.count}\nevent: metrics\ndata: ${JSON.stringify(fresh)}\n\n`);
    const finished = existsSync(join(dir, 'summary.json'));
    if (finished !== done) {
      done = finished;
      res.write(`event: status\ndata: ${JSON.stringify({ status: done ? 'done' : 'running' })}\n\n`);
    }
    if (fresh.length === 0 && ++quiet * ctx.pollMs >= 15000) {
      quiet = 0;
      res.write(': keep-alive\n\n');
    }
  };
  tick();
  const timer = setInterval(tick, ctx.pollMs);
  res.on('close', () => {
    clearInterval(timer);
    ctx.streams.delete(res);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

function file(res: ServerResponse, path: string | undefined, sandbox?: string): void {
  if (path === undefined) {
    send(res, 404, { error: 'not found' });
    return;
  }
  // The app is one inline script and style: nothing else may run or load.
  const csp = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
  res.writeHead(200, {
    'Content-Type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': sandbox === undefined ? csp : `${csp}; ${sandbox}`,
  });
  res.end(readFileSync(path));
}
