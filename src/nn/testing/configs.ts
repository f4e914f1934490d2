// Small model configurations for tests (seconds on the reference backend).
import type { ModelConfig } from '../gpt.js';

export function microConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    vocab_size: 32, seq_len: 16, d_model: 16, n_layers: 2, n_heads: 2, d_ff: 32, n_experts: 4, top_k: 2,
    moe_every: 1, gate: 'topk', capacity_factor: 0, expert_d_ff: 16, aux_loss_coef: 0.01, ...over,
  };
}
