// The `furnace pinn` configuration: one typed schema, validated at the boundary (unknown keys,
// wrong types and impossible values name the field).
import { DEFAULT_TRAIN, type Constraint, type TrainConfig } from './train.js';
import { InputError } from '../../util/errors.js';

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

export class ConfigError extends InputError {
  override readonly name = 'ConfigError';
}

type Check = (v: unknown, field: string) => unknown;
const int = (lo: number, hi: number): Check => (v, f) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${f}: expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
};
const num = (lo: number, hi: number): Check => (v, f) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new ConfigError(`${f}: expected a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
};
const oneOf = (xs: readonly string[]): Check => (v, f) => {
  if (typeof v !== 'string' || !xs.includes(v)) throw new ConfigError(`${f}: expected one of ${xs.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
};
function object(v: unknown, f: string, keys: Record<string, Check>): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${f}: expected an object`);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    const c = keys[k];
    if (c === undefined) throw new ConfigError(`${f === '' ? '' : f + '.'}${k}: unknown key (allowed: ${Object.keys(keys).join(', ')})`);
    out[k] = c(val, f === '' ? k : `${f}.${k}`);
  }
  return out;
}

const constraint: Check = (v, f) => {
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null) throw new ConfigError(`${f}: expected an object`);
  if (o['kind'] === 'bounds') {
    const c = object(v, f, { kind: oneOf(['bounds']), min: num(-1e30, 1e30), max: num(-1e30, 1e30), weight: num(0, 1e12) });
    if (c['min'] === undefined && c['max'] === undefined) throw new ConfigError(`${f}: bounds need min or max`);
    if (typeof c['min'] === 'number' && typeof c['max'] === 'number' && c['min'] >= c['max']) throw new ConfigError(`${f}: min must be below max`);
    return { weight: 1, ...c };
  }
  if (o['kind'] === 'monotone') return { weight: 1, ...object(v, f, { kind: oneOf(['monotone']), direction: oneOf(['increasing', 'decreasing']), weight: num(0, 1e12) }) };
  throw new ConfigError(`${f}.kind: expected 'bounds' or 'monotone', got ${JSON.stringify(o['kind'])}`);
};

/** Validates a parsed JSON config and merges it over the defaults. */
export function parseConfig(v: unknown): PinnConfig {
  const widths: Check = (x, f) => {
    if (!Array.isArray(x) || x.length < 3) throw new ConfigError(`${f}: expected [2, hidden..., 1] with at least one hidden layer`);
    x.forEach((w, i) => int(1, 4096)(w, `${f}[${i}]`));
    if (x[0] !== 2 || x[x.length - 1] !== 1) throw new ConfigError(`${f}: the network maps (x, t) to u, so it must start with 2 and end with 1`);
    return x;
  };
  const o = object(v, '', {
    problem: oneOf(PROBLEMS), collocation: int(1, 10_000_000), boundary: int(1, 1_000_000), dataPoints: int(1, 1_000_000), noise: num(0, 10),
    widths, adamSteps: int(0, 10_000_000), adamLr: num(1e-12, 10), lbfgsSteps: int(0, 10_000_000),
    weighting: oneOf(['fixed', 'annealing', 'dual']),
    weights: (x, f) => object(x, f, { initial: num(0, 1e12), boundary: num(0, 1e12), data: num(0, 1e12) }),
    annealEvery: int(1, 1_000_000), annealAlpha: num(0, 1), dualLr: num(0, 1e12),
    constraints: (x, f) => { if (!Array.isArray(x)) throw new ConfigError(`${f}: expected an array`); return x.map((c, i) => constraint(c, `${f}[${i}]`)); },
    seed: int(0, 2 ** 31), timeLimit: num(0, 1e7), adamTimeLimit: num(0, 1e7), logEvery: int(1, 1_000_000),
    evaluator: oneOf(['fused', 'engine']), batch: int(0, 10_000_000),
  });
  const merged = { ...DEFAULT_PINN, ...o } as PinnConfig;
  merged.weights = { ...DEFAULT_PINN.weights, ...(o['weights'] as Partial<PinnConfig['weights']> | undefined) };
  merged.constraints = (o['constraints'] as Constraint[] | undefined) ?? [];
  return merged;
}
