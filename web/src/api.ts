// Talks to the dashboard server; the token (when the server needs one) rides in a cookie the server sets.
import type { CheckpointInfo, DataInfo, RunDetail, RunInfo } from '../../src/dashboard/types.js';

async function get<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${(await r.json().catch(() => ({ error: r.statusText })) as { error?: string }).error ?? ''}`);
  return (await r.json()) as T;
}

export const api = {
  runs: () => get<RunInfo[]>('api/runs'),
  run: (name: string) => get<RunDetail>(`api/runs/${encodeURIComponent(name)}`),
  checkpoints: (name: string) => get<CheckpointInfo[]>(`api/runs/${encodeURIComponent(name)}/checkpoints`),
  data: () => get<DataInfo[]>('api/data'),
  dataReport: (name: string) => get<Record<string, unknown>>(`api/data/${encodeURIComponent(name)}`),
  events: (name: string, from: number) => new EventSource(`api/runs/${encodeURIComponent(name)}/events?from=${from}`),
};

/** True when the page was opened from a file or a static host (no API): only the plans page works then. */
export function offline(): boolean {
  return location.protocol === 'file:';
}
