// The `furnace pinn` configuration: one typed schema, validated at the boundary (unknown keys,
// wrong types and impossible values name the field).
import { InputError } from '../../util/errors.js';
import { parseWith, z } from '../../util/schema.js';
import { DEFAULT_TRAIN, type Constraint, type TrainConfig } from './train.js';

export const PROBLEMS = ['burgers', 'burgers-inverse'] as const;
export type ProblemName = (typeof PROBLEMS)[number];

export interface PinnConfig extends TrainConfig {
  problem: ProblemName;
  collocation: number; boundary: number; dataPoints: number; noise: number;
}

/** Raissi et al.'s sizes; Adam on minibatches of 1,000 collocation points for at most 300 s, then
 * full-batch L-BFGS for the rest of the 900 s budget. */
export const DEFAULT_PINN: PinnConfig = {
  ...DEFAULT_TRAIN, problem: 'burgers', collocation: 10000, boundary: 100, dataPoints: 2000, noise: 0.01,
  batch: 1000, adamSteps: 100000, adamTimeLimit: 300, lbfgsSteps: 100000,
};

const int = (lo: number, hi: number) => z.number().int().min(lo).max(hi);
const num = (lo: number, hi: number) => z.number().min(lo).max(hi);
const weight = num(0, 1e12);

const constraintSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('bounds'), min: num(-1e30, 1e30).exactOptional(), max: num(-1e30, 1e30).exactOptional(), weight: weight.default(1) }),
  z.strictObject({ kind: z.literal('monotone'), direction: z.enum(['increasing', 'decreasing']), weight: weight.default(1) }),
]);

/** A config file: every key optional, merged over DEFAULT_PINN. */
const pinnFileSchema = z.strictObject({
  problem: z.enum(PROBLEMS), collocation: int(1, 10_000_000), boundary: int(1, 1_000_000), dataPoints: int(1, 1_000_000), noise: num(0, 10),
  widths: z.array(int(1, 4096)).min(3, { error: 'expected [2, hidden..., 1] with at least one hidden layer' }),
  adamSteps: int(0, 10_000_000), adamLr: num(1e-12, 10), lbfgsSteps: int(0, 10_000_000),
  weighting: z.enum(['fixed', 'annealing', 'dual']),
  weights: z.strictObject({ initial: weight, boundary: weight, data: weight }).partial(),
  annealEvery: int(1, 1_000_000), annealAlpha: num(0, 1), dualLr: weight,
  constraints: z.array(constraintSchema),
  seed: int(0, 2 ** 31), timeLimit: num(0, 1e7), adamTimeLimit: num(0, 1e7), logEvery: int(1, 1_000_000),
  evaluator: z.enum(['fused', 'engine']), batch: int(0, 10_000_000),
}).partial();

/** Validates a parsed JSON config and merges it over the defaults; errors name `where` and the field. */
export function parseConfig(v: unknown, where = 'pinn'): PinnConfig {
  const o = parseWith(pinnFileSchema, v, where);
  const widths = o.widths;
  if (widths !== undefined && (widths[0] !== 2 || widths[widths.length - 1] !== 1)) {
    throw new InputError(`${where}.widths: the network maps (x, t) to u, so it must start with 2 and end with 1`);
  }
  const constraints: Constraint[] = [];
  for (const [i, c] of (o.constraints ?? []).entries()) {
    const at = `${where}.constraints[${i}]`;
    if (c.kind === 'bounds') {
      if (c.min === undefined && c.max === undefined) throw new InputError(`${at}: bounds need min or max`);
      if (c.min !== undefined && c.max !== undefined && c.min >= c.max) throw new InputError(`${at}: min must be below max`);
    }
    constraints.push(c);
  }
  return { ...DEFAULT_PINN, ...stripUndefined(o), weights: { ...DEFAULT_PINN.weights, ...stripUndefined(o.weights ?? {}) }, constraints };
}

/** `.partial()` types its keys `?: T | undefined`; a parsed object never holds an undefined value, and
 * dropping them keeps a spread over the defaults from overwriting one with undefined. */
function stripUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
