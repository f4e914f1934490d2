#!/usr/bin/env node
// The `furnace` command: runs the command line (src/cli/run.ts) and sets the exit code.
import { errnoCode } from '../util/errors.js';
import { runCommand } from './run.js';

// A reader that closed its end (`furnace plan ... | head -1`) ends the command quietly, as
// standard Unix tools do: exit 0, no trace. Nothing is left to say on a closed stderr either.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: unknown) => {
    if (errnoCode(e) === 'EPIPE') process.exit(stream === process.stdout ? 0 : (Number(process.exitCode ?? 0) || 0));
    throw e;
  });
}

runCommand(process.argv.slice(2)).then((code) => { process.exitCode = code; });
