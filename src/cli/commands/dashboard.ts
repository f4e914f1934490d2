// `furnace dashboard`: serves the web dashboard (runs, plans, data reports) over the runs folder.
import { existsSync } from 'node:fs';
import { appHtmlPath } from '../../dashboard/report.js';
import { DEFAULT_PORT, TOKEN_ENV, startDashboard } from '../../dashboard/server.js';
import { CheckError, InputError, errnoCode, errorMessage } from '../../util/errors.js';
import { checkInputPath } from '../../util/paths.js';
import { Output } from '../../util/output.js';
import { intFlag, parse, type Command } from '../util.js';

const USAGE = `usage: furnace dashboard [--runs DIR] [--port P] [--host H] [--token T] [--json]
  --runs   folder whose sub-folders are runs (metrics.jsonl) and data reports (report.json); default runs
  --port   default ${DEFAULT_PORT} (0: any free port)
  --host   default 127.0.0.1; any other address needs --token or ${TOKEN_ENV}, and every request must carry
           it (Authorization: Bearer T, X-Furnace-Token: T, or ?token=T in the first URL)`;

export const run: Command = async (argv) => {
  const { values: v } = parse(argv, {
    runs: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, token: { type: 'string' },
    json: { type: 'boolean', default: false },
  }, false, USAGE);
  const out = new Output(v.json === true);
  const runs = v.runs ?? 'runs';
  checkInputPath('--runs', runs, 'dir');
  const port = intFlag('port', v.port, 0, 65535) ?? DEFAULT_PORT;
  const token = v.token ?? process.env[TOKEN_ENV];
  let dash;
  try {
    dash = await startDashboard({ runs, port, ...(v.host !== undefined ? { host: v.host } : {}), ...(token !== undefined ? { token } : {}) });
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'EADDRINUSE') throw new InputError(`--port: ${port} is in use (try --port 0)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`--host: cannot bind '${v.host}'`);
    if (e instanceof InputError) throw e;
    throw new CheckError(`dashboard: ${errorMessage(e)}`);
  }
  const url = token === undefined ? dash.url : `${dash.url}?token=${encodeURIComponent(token)}`;
  out.say(`furnace dashboard: ${url}  (runs: ${runs}; Ctrl-C to stop)`);
  if (!existsSync(appHtmlPath())) out.say(`warning: ${appHtmlPath()} is missing (run npm run build); only the /api routes answer`);
  out.result({ url: dash.url, host: dash.host, port: dash.port, runs, token: token !== undefined });
  await new Promise<void>((ok) => {
    const stop = () => { dash.close().then(ok, ok); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
};
