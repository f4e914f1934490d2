// Named built-in data sets (for `furnace discover --problem` and tests), with their true equations.
import { burgersBenchmark } from './cole-hopf.js';
import { advectionDiffusion, burgersPeriodic, fisherKpp, kdv, kuramotoSivashinsky } from './generators.js';
import type { Field } from './spectral.js';

export interface DataProblem { make: () => Field; truth: Record<string, number>; summary: string }

export const dataProblems: Record<string, DataProblem> = {
  burgers: { make: () => burgersPeriodic(), truth: { 'u*u_x': -1, u_xx: 0.1 }, summary: "PDE-FIND's Burgers: u_t = -u u_x + 0.1 u_xx" },
  kdv: { make: () => kdv(), truth: { 'u*u_x': -6, u_xxx: -1 }, summary: 'KdV two-soliton: u_t = -6 u u_x - u_xxx' },
  ks: {
    make: () => kuramotoSivashinsky(), truth: { 'u*u_x': -1, u_xx: -1, u_xxxx: -1 },
    summary: 'Kuramoto-Sivashinsky: u_t = -u u_x - u_xx - u_xxxx',
  },
  fisher: { make: () => fisherKpp(), truth: { u_xx: 0.5, u: 1, 'u^2': -1 }, summary: 'Fisher-KPP: u_t = 0.5 u_xx + u - u^2' },
  advection: { make: () => advectionDiffusion(), truth: { u_x: -0.5, u_xx: 0.05 }, summary: 'advection-diffusion: u_t = -0.5 u_x + 0.05 u_xx' },
  'burgers-shock': {
    make: () => burgersBenchmark(), truth: { 'u*u_x': -1, u_xx: 0.01 / Math.PI },
    summary: 'Burgers nu = 0.01/pi on [-1, 1] (PINN benchmark, Cole-Hopf exact)',
  },
};
