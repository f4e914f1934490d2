// Entry of one mpirun process started by launch(): `node mpi-rank.js <module URL> <export> <args JSON>`.
// Prints its result as one marked line; failures are reported and abort the job (runMpiRank).
import { runMpiRank } from './mpi-group.js';
import { RESULT_MARK, rankFunction } from './rank-main.js';

const [module = '', exportName = 'main', argsJson = 'null'] = process.argv.slice(2);
await runMpiRank(async (world) => {
  const fn = await rankFunction(module, exportName);
  const result = await fn(world, JSON.parse(argsJson));
  process.stdout.write(`${RESULT_MARK}${JSON.stringify({ rank: world.rank, result })}\n`);
});
