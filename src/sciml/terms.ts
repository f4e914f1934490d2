// Candidate terms of an evolution equation u_t = F(u, u_x, u_xx, ...): parsing and canonical names.
//
// A term is a product of powers of u and its x-derivatives. Canonical name: factors ordered by
// derivative order, each written `u`, `u_x`, `u_xx`, ... with `^p` for powers above one, joined by
// `*`; the empty product is `1`. Examples: `1`, `u`, `u^2`, `u_x`, `u*u_x`, `u^2*u_xx`, `u_x^2`.

/** powers[d] = exponent of the d-th x-derivative of u (d = 0 is u itself). */
export interface Term { name: string; powers: number[] }

export function factorName(d: number): string { return d === 0 ? 'u' : 'u_' + 'x'.repeat(d); }

export function makeTerm(powers: number[]): Term {
  const p = [...powers];
  while (p.length > 0 && p[p.length - 1] === 0) p.pop();
  const parts: string[] = [];
  p.forEach((e, d) => { if (e > 0) parts.push(factorName(d) + (e > 1 ? `^${e}` : '')); });
  return { name: parts.length === 0 ? '1' : parts.join('*'), powers: p };
}

/** Parses a term such as `u*u_x`, `u_x^2` or `u^2 * u_xxx` into canonical form; throws a one-line
 * message naming the bad part. */
export function parseTerm(text: string): Term {
  const s = text.replace(/\s+/g, '');
  if (s === '' ) throw new Error(`empty term`);
  if (s === '1') return makeTerm([]);
  const powers: number[] = [];
  for (const f of s.split('*')) {
    const m = /^u(?:_(x+))?(?:\^(\d+))?$/.exec(f);
    if (m === null) throw new Error(`term '${text}': cannot read factor '${f}' (expected u, u_x, u_xx, ... with optional ^power)`);
    const d = m[1]?.length ?? 0, e = m[2] === undefined ? 1 : Number(m[2]);
    if (e < 1) throw new Error(`term '${text}': power must be at least 1 in '${f}'`);
    while (powers.length <= d) powers.push(0);
    powers[d] = powers[d]! + e;
  }
  return makeTerm(powers);
}

/** PDE-FIND's library: u^p times one derivative u_{x^d}, p <= maxPower, d <= maxOrder (d = 0 gives
 * the pure powers 1, u, ..., u^maxPower). Ordered by derivative, then power. */
export function standardLibrary(maxOrder: number, maxPower: number): Term[] {
  const out: Term[] = [];
  for (let d = 0; d <= maxOrder; d++) for (let p = 0; p <= maxPower; p++) {
    if (d === 0) out.push(makeTerm([p]));
    else { const pw = new Array<number>(d + 1).fill(0); pw[0] = p; pw[d] = 1; out.push(makeTerm(pw)); }
  }
  return out;
}

export function maxDerivative(terms: Term[]): number {
  return Math.max(0, ...terms.map((t) => t.powers.length - 1));
}
