// The topology file of `furnace train --topology`: how ranks sit in the network (tiers of src/layout/tiers.ts).
//
// `{"tiers": [{"name": "node", "group_size": 4}, {"name": "supernode", "group_size": 1024}]}`: tiers
// from fastest to slowest, each group_size a multiple of the previous one. A planner cluster file
// (tiers with bandwidth, latency, oversubscription; name, devices, ...) is accepted as it is: only
// its tiers matter here.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError, errorMessage } from '../util/errors.js';
import { formatIssues } from '../util/schema.js';

const measure = z.number().nonnegative().optional();

const tierSchema = z.strictObject({
  name: z.string().min(1),
  group_size: z.int().min(1),
  /** Bytes/s per rank into this tier, seconds per message, demand:capacity (planner fields). */
  bandwidth: measure,
  latency: measure,
  oversubscription: measure,
});

const topologySchema = z.strictObject({
  tiers: z.array(tierSchema).min(1),
  // The other keys of a planner cluster file, checked by the planner, not here.
  name: z.unknown().optional(),
  devices: z.unknown().optional(),
  device: z.unknown().optional(),
  storage: z.unknown().optional(),
  efficiency: z.unknown().optional(),
}).superRefine((t, ctx) => {
  t.tiers.forEach((tier, i) => {
    const prev = t.tiers[i - 1];
    if (prev !== undefined && tier.group_size % prev.group_size !== 0) {
      ctx.addIssue({ code: 'custom', path: ['tiers', i, 'group_size'],
        message: `${tier.group_size} is not a multiple of tiers[${i - 1}].group_size (${prev.group_size})` });
    }
  });
}).transform((t) => ({ tiers: t.tiers }));

export type Topology = z.output<typeof topologySchema>;

/** Validates a parsed topology; an InputError names `where` and the field (e.g. `tiers[1].group_size`). */
export function parseTopology(v: unknown, where = 'topology'): Topology {
  const r = topologySchema.safeParse(v);
  if (!r.success) throw new InputError(formatIssues(where, r.error));
  return r.data;
}

/** Reads and validates a topology file; every failure is an InputError naming the file. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read (${errorMessage(e)})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON (${errorMessage(e)})`);
  }
  return parseTopology(v, file);
}
