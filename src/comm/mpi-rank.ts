// Entry of one mpirun process: `node mpi-rank.js <module URL> <export> <args JSON>`.
// Prints its result as one marked JSON line; on failure prints a marked error line naming the
// rank and calls MPI_Abort, which makes mpirun end every rank of the job.
import { MpiGroup } from './mpi-group.js';
import { ERROR_MARK, RESULT_MARK, rankFunction } from './rank-main.js';

async function main(): Promise<void> {
  const [module = '', exportName = 'main', argsJson = 'null'] = process.argv.slice(2);
  const world = MpiGroup.world();
  try {
    const fn = await rankFunction(module, exportName);
    const result = await fn(world, JSON.parse(argsJson));
    process.stdout.write(`${RESULT_MARK}${JSON.stringify({ rank: world.rank, result })}\n`);
    MpiGroup.finalize();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // Writes to pipes and files are synchronous on Linux, so the line is out before the abort.
    process.stderr.write(`${ERROR_MARK}${JSON.stringify({ rank: world.rank, message })}\n`);
    MpiGroup.abort(1);
  }
}

await main();
