// An open-addressing hash table from a token pair (a, b) to a merge rank: the inner loop of BPE.
// A Map keyed by a*V+b leaves small-integer range once V passes ~32k; two Int32Arrays do not.

export class PairTable {
  private readonly mask: number;
  private readonly shift: number;
  private readonly keyA: Int32Array;
  private readonly keyB: Int32Array;
  private readonly value: Int32Array;

  constructor(capacityHint: number) {
    let bits = 4;
    while (1 << bits < capacityHint * 2) bits++;
    const cap = 1 << bits;
    this.mask = cap - 1;
    this.shift = 32 - bits;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.value = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    // Multiplicative hashing (Knuth, TAOCP vol. 3, 6.4): the high bits of the product are well mixed.
    const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> this.shift;
  }

  set(a: number, b: number, v: number): void {
    let i = this.slot(a, b);
    while (this.keyA[i] !== -1 && !(this.keyA[i] === a && this.keyB[i] === b)) i = (i + 1) & this.mask;
    this.keyA[i] = a;
    this.keyB[i] = b;
    this.value[i] = v;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const ka = this.keyA[i]!;
      if (ka === -1) return -1;
      if (ka === a && this.keyB[i] === b) return this.value[i]!;
      i = (i + 1) & this.mask;
    }
  }
}
