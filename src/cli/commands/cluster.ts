// `furnace cluster up|status|down`: an emulated multi-node cluster on this machine (network
// namespaces as nodes, tbf-shaped links through two tiers of bridges), and the mpirun line for it.
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CheckError, InputError } from '../../util/errors.js';
import { Output } from '../../util/output.js';
import { parse, intFlag, type Command } from '../util.js';
import { MAX_NODES, checkName, parseLinks } from '../../cluster/spec.js';
import { down, shellLine, status, up } from '../../cluster/netns.js';

const USAGE = `usage: furnace cluster up --nodes N [--ranks-per-node R] [--supernodes S] [--link node=RATE,supernode=RATE]
                         [--name NAME] [--dir DIR] [--json]
       furnace cluster status [--name NAME] [--dir DIR] [--json]
       furnace cluster run [--name NAME] [--dir DIR] [--np N] -- train --comm mpi --dp ...   (the mpirun line + this furnace)
       furnace cluster down [--name NAME] [--dir DIR] [--json]
  Nodes are network namespaces fn-NAME-n0.. linked through bridges (one per supernode and a top one) in
  fn-NAME-sw; RATE in tc notation (1gbit, 100mbit), default 1gbit for both; files (state, hostfile, agent,
  topology) in DIR, default ~/.furnace/clusters/NAME; NAME defaults to 'default'.
  Needs Linux, root and iproute2 (ip, tc): without them it refuses with exit code 1; bad flags exit 2.`;

export const run: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || argv.includes('--help')) {
    process.stdout.write(USAGE + '\n');
    return sub === undefined ? 2 : 0;
  }
  const common = { name: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } } as const;
  if (sub === 'up') {
    const { values: v } = parse(rest, { ...common, nodes: { type: 'string' }, 'ranks-per-node': { type: 'string' },
      supernodes: { type: 'string' }, link: { type: 'string' } });
    const out = new Output(v.json === true);
    if (v.nodes === undefined) throw new InputError('--nodes: required (how many nodes to create)');
    const spec = {
      name: checkName(v.name ?? 'default'),
      nodes: intFlag('nodes', v.nodes, 1, MAX_NODES)!,
      ranksPerNode: intFlag('ranks-per-node', v['ranks-per-node'], 1) ?? 1,
      supernodes: intFlag('supernodes', v.supernodes, 1) ?? 1,
      rates: parseLinks(v.link),
    };
    const t0 = performance.now();
    const s = await up(spec, v.dir);
    const seconds = (performance.now() - t0) / 1000;
    const gbit = (b: number) => `${b / 1e9} Gbit/s`;
    out.say(`cluster ${spec.name} up in ${seconds.toFixed(2)} s: ${spec.nodes} nodes x ${spec.ranksPerNode} ranks, ` +
      `${spec.supernodes} supernode${spec.supernodes > 1 ? 's' : ''}; links node ${gbit(spec.rates.node)}` +
      `${spec.supernodes > 1 ? `, supernode ${gbit(spec.rates.supernode)}` : ''}; subnet ${s.subnet}`);
    out.say(`files in ${s.dir}: hostfile, agent.sh, topology.json, state.json`);
    out.say('run:');
    // This very furnace, by absolute path: the ranks start in the namespaces with mpirun's working directory.
    const furnace = shellLine([process.execPath, resolve(process.argv[1] ?? 'furnace')]);
    out.say(`  ${shellLine(s.mpirun)} ${furnace} train --comm mpi --topology ${s.files.topology} --dp ${spec.nodes * spec.ranksPerNode} ...`);
    out.say(`or: furnace cluster run --name ${spec.name}${v.dir !== undefined ? ` --dir ${s.dir}` : ''} -- train --comm mpi --topology ${s.files.topology} --dp ${spec.nodes * spec.ranksPerNode} ...`);
    out.result({ name: spec.name, dir: s.dir, seconds, nodes: s.nodes, namespaces: s.namespaces, qdiscs: s.qdiscs, files: s.files,
      topology: s.files.topology, mpirun: s.mpirun, mpirun_line: shellLine(s.mpirun) });
    return 0;
  }
  if (sub === 'status') {
    const { values: v } = parse(rest, common);
    const out = new Output(v.json === true);
    const name = checkName(v.name ?? 'default');
    const s = status(name, v.dir);
    out.say(`cluster ${name}: ${s.phase}${s.state !== undefined ? ` (${s.state.spec.nodes} nodes x ${s.state.spec.ranksPerNode} ranks, created ${s.state.created})` : ''}`);
    for (const n of s.state?.nodes ?? []) out.say(`  ${n.ns.padEnd(20)} ${n.addr.padEnd(14)} supernode ${n.supernode}${s.missing.includes(n.ns) ? '  MISSING' : ''}`);
    if (s.state !== undefined) out.say(`mpirun: ${shellLine(s.state.mpirun)}`);
    out.result({ name, dir: s.dir, phase: s.phase, present: s.present, missing: s.missing,
      ...(s.state !== undefined ? { spec: s.state.spec, nodes: s.state.nodes, files: s.state.files, mpirun: s.state.mpirun } : {}) });
    return 0;
  }
  if (sub === 'down') {
    const { values: v } = parse(rest, common);
    const out = new Output(v.json === true);
    const name = checkName(v.name ?? 'default');
    const t0 = performance.now();
    const r = await down(name, v.dir);
    const seconds = (performance.now() - t0) / 1000;
    out.say(r.removed.length > 0 ? `cluster ${name} down in ${seconds.toFixed(2)} s: removed ${r.removed.length} namespaces (${r.removed.join(', ')})`
      : `cluster ${name}: nothing to remove`);
    out.result({ ...r, seconds });
    return 0;
  }
  if (sub === 'run') {
    const { values: v, positionals } = parse(rest, { name: { type: 'string' }, dir: { type: 'string' }, np: { type: 'string' } }, true);
    const name = checkName(v.name ?? 'default');
    const s = status(name, v.dir);
    if (s.state === undefined || s.phase !== 'up') throw new InputError(`--name: cluster '${name}' is ${s.phase}; furnace cluster up --name ${name} --nodes N`);
    if (positionals.length === 0) throw new InputError('cluster run: nothing to run; give the furnace arguments after --, e.g. -- train --comm mpi --dp 2');
    const world = s.state.spec.nodes * s.state.spec.ranksPerNode;
    const np = intFlag('np', v.np, 1, world) ?? world;
    const argv = [...s.state.mpirun.slice(0, -1), String(np), process.execPath, resolve(process.argv[1] ?? 'furnace'), ...positionals];
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    if (r.error !== undefined) throw new CheckError(`cluster run: ${r.error.message}`);
    return r.status ?? 1;
  }
  throw new InputError(`cluster: unknown subcommand '${sub}' (choose up, status, run or down)`);
};
