// `furnace bench data`: cleaning throughput (every stage on) and tokenizer training/encoding speed,
// on real text: Moby-Dick chapters (English) and Tang poems (Chinese) from the bundled packages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Output } from '../util/output.js';
import { cleanCorpus, DEFAULT_CLEAN } from '../data/clean.js';
import { BpeTokenizer } from '../data/tokenizer.js';
import { mobyDickText, tangPoems } from '../data/bundled-corpora.js';
import { writeBenchCorpus } from './data-corpus.js';

export interface DataBenchOptions {
  /** Size of the generated English corpus, MB. */
  mb: number;
  /** Runs per measurement; the best time counts. */
  repeat: number;
}

export async function benchData({ mb, repeat }: DataBenchOptions, out: Output): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-bench-data-'));
  try {
    const input = join(dir, 'corpus.jsonl');
    const corpus = writeBenchCorpus(input, mb * 1e6, 1);
    out.say(`corpus: ${corpus.docs} English documents, ${(corpus.bytes / 1e6).toFixed(2)} MB (Moby-Dick passages and ` +
      `sentence mixes, ${corpus.nearDuplicates} mutated near-duplicates, ${corpus.exactDuplicates} exact copies, PII inserted)`);
    // Wall time, and CPU time of this (single-threaded) process: on a shared machine the second
    // says what one core delivers when it is not taken by others. Best of `repeat` for both.
    let bestClean = Infinity, bestCpu = Infinity;
    let last;
    for (let r = 0; r < repeat; r++) {
      const c0 = process.cpuUsage();
      last = await cleanCorpus(input, join(dir, `out${r}`), DEFAULT_CLEAN);
      const c = process.cpuUsage(c0);
      bestClean = Math.min(bestClean, last.seconds);
      bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
    }
    const cleanMBs = corpus.bytes / bestClean / 1e6;
    const cleanCpuMBs = corpus.bytes / bestCpu / 1e6;
    out.say(`clean, all stages, 1 thread: ${cleanMBs.toFixed(2)} MB/s wall, ${cleanCpuMBs.toFixed(2)} MB per CPU-second ` +
      `(best of ${repeat}: ${bestClean.toFixed(3)} s wall, ${bestCpu.toFixed(3)} s CPU); ` +
      `${last!.docs_out}/${last!.docs_in} kept, ${last!.near_dedup.clusters} near-duplicate clusters`);

    const moby = mobyDickText();
    const zh = tangPoems(20_000).map((p) => p.text).join('\n\n');
    const measure = (fn: () => void) => {
      const t0 = performance.now(), c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
    };
    const best = (runs: { wall: number; cpu: number }[]) => ({ wall: Math.min(...runs.map((r) => r.wall)), cpu: Math.min(...runs.map((r) => r.cpu)) });
    const timeTrain = (text: string, vocabSize: number) => {
      let tok: BpeTokenizer | undefined;
      const runs = Array.from({ length: Math.min(repeat, 2) }, () => measure(() => { tok = BpeTokenizer.train(text, { vocabSize }); }));
      return { tok: tok!, t: best(runs) };
    };
    const zhTrainText = zh.slice(0, 300_000);
    const en = timeTrain(moby, 4096);
    out.say(`tokenizer train, Moby-Dick ${(Buffer.byteLength(moby) / 1e6).toFixed(2)} MB -> vocab 4096: ${en.t.wall.toFixed(2)} s wall, ${en.t.cpu.toFixed(2)} s CPU`);
    const zt = timeTrain(zhTrainText, 4096);
    out.say(`tokenizer train, Tang poems ${(Buffer.byteLength(zhTrainText) / 1e6).toFixed(2)} MB -> vocab 4096: ${zt.t.wall.toFixed(2)} s wall, ${zt.t.cpu.toFixed(2)} s CPU`);
    const encodeRate = (tok: BpeTokenizer, text: string) => {
      const runs = Array.from({ length: repeat }, () => {
        const fresh = BpeTokenizer.fromJSON(tok.toJSON());  // empty word cache: the first pass over new text
        return measure(() => fresh.encode(text));
      });
      const b = best(runs), n = Buffer.byteLength(text);
      return { wall: n / b.wall / 1e6, cpu: n / b.cpu / 1e6 };
    };
    const encEn = encodeRate(en.tok, moby);
    const encZh = encodeRate(zt.tok, zh);
    out.say(`tokenizer encode, 1 thread, cold cache: English ${encEn.wall.toFixed(2)} MB/s wall (${encEn.cpu.toFixed(2)} MB per CPU-s), ` +
      `Chinese ${encZh.wall.toFixed(2)} MB/s wall (${encZh.cpu.toFixed(2)} MB per CPU-s) on ${(Buffer.byteLength(zh) / 1e6).toFixed(2)} MB of Tang poems`);
    out.result({
      clean_bytes_per_s: cleanMBs * 1e6, clean_bytes_per_cpu_s: cleanCpuMBs * 1e6, clean_seconds: bestClean, clean_cpu_seconds: bestCpu, clean_bytes: corpus.bytes, clean_docs: corpus.docs,
      tokenizer_train_en_seconds: en.t.wall, tokenizer_train_en_cpu_seconds: en.t.cpu,
      tokenizer_train_zh_seconds: zt.t.wall, tokenizer_train_zh_cpu_seconds: zt.t.cpu,
      encode_en_bytes_per_s: encEn.wall * 1e6, encode_en_bytes_per_cpu_s: encEn.cpu * 1e6,
      encode_zh_bytes_per_s: encZh.wall * 1e6, encode_zh_bytes_per_cpu_s: encZh.cpu * 1e6,
    });
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
