// Model FLOPs per trained token: 6 x active parameters (Kaplan et al. 2020) plus attention,
// 12 * layers * seq_len * d_model for the QK^T and AV products forward and backward (causal
// masking is not subtracted, as in PaLM's MFU accounting).
import { countParams, usesRope, type ModelConfig } from '../nn/gpt.js';

export function flopsPerToken(cfg: ModelConfig): number {
  const active = countParams(cfg).active - (usesRope(cfg) ? 0 : cfg.seq_len * cfg.d_model); // position table is a lookup
  return 6 * active + 12 * cfg.n_layers * cfg.seq_len * cfg.d_model;
}
