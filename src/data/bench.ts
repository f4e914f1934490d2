// `furnace bench data`: cleaning throughput (every stage on) and tokenizer training/encoding speed,
// on real text: Moby-Dick chapters (English) and Tang poems (Chinese) from the bundled packages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intFlag, Output, parse, type Command } from '../cli/util.js';
import { cleanCorpus, DEFAULT_CLEAN } from './clean.js';
import { BpeTokenizer } from './tokenizer.js';
import { mobyDickText, tangPoems } from './bundled-corpora.js';
import { writeBenchCorpus } from './bench-corpus.js';

export const run: Command = async (argv) => {
  const { values } = parse(argv, { mb: { type: 'string' }, repeat: { type: 'string' }, json: { type: 'boolean', default: false } });
  const mb = intFlag('mb', values.mb, 1, 1024) ?? 8;
  const repeat = intFlag('repeat', values.repeat, 1, 20) ?? 3;
  const out = new Output(values.json);
  const dir = mkdtempSync(join(tmpdir(), 'furnace-bench-data-'));
  try {
    const input = join(dir, 'corpus.jsonl');
    const corpus = writeBenchCorpus(input, mb * 1e6, 1);
    out.say(`corpus: ${corpus.docs} English documents, ${(corpus.bytes / 1e6).toFixed(2)} MB ` +
      `(Moby-Dick passages, ${corpus.nearDuplicates} mutated near-duplicates, ${corpus.exactDuplicates} exact copies, PII inserted)`);
    let bestClean = Infinity;
    let last;
    for (let r = 0; r < repeat; r++) {
      last = await cleanCorpus(input, join(dir, `out${r}`), DEFAULT_CLEAN);
      bestClean = Math.min(bestClean, last.seconds);
    }
    const cleanMBs = corpus.bytes / bestClean / 1e6;
    out.say(`clean, all stages, 1 core: ${cleanMBs.toFixed(2)} MB/s (best of ${repeat}: ${bestClean.toFixed(3)} s); ` +
      `${last!.docs_out}/${last!.docs_in} kept, ${last!.near_dedup.clusters} near-duplicate clusters`);

    const moby = mobyDickText();
    const zh = tangPoems(20_000).map((p) => p.text).join('\n\n');
    const timeTrain = (text: string, vocabSize: number) => {
      let best = Infinity, tok: BpeTokenizer | undefined;
      for (let r = 0; r < Math.min(repeat, 2); r++) {
        const t0 = performance.now();
        tok = BpeTokenizer.train(text, { vocabSize });
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      return { tok: tok!, seconds: best };
    };
    const en = timeTrain(moby, 4096);
    out.say(`tokenizer train, Moby-Dick ${(Buffer.byteLength(moby) / 1e6).toFixed(2)} MB -> vocab 4096: ${en.seconds.toFixed(2)} s`);
    const zt = timeTrain(zh.slice(0, 300_000), 4096);
    out.say(`tokenizer train, Tang poems ${(Buffer.byteLength(zh.slice(0, 300_000)) / 1e6).toFixed(2)} MB -> vocab 4096: ${zt.seconds.toFixed(2)} s`);
    const encodeRate = (tok: BpeTokenizer, text: string) => {
      let best = Infinity;
      for (let r = 0; r < repeat; r++) {
        const fresh = BpeTokenizer.fromJSON(tok.toJSON());  // empty word cache: the first pass over new text
        const t0 = performance.now();
        fresh.encode(text);
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      return Buffer.byteLength(text) / best / 1e6;
    };
    const encEn = encodeRate(en.tok, moby);
    const encZh = encodeRate(zt.tok, zh);
    out.say(`tokenizer encode, 1 core, cold cache: English ${encEn.toFixed(2)} MB/s, Chinese ${encZh.toFixed(2)} MB/s ` +
      `(${(Buffer.byteLength(zh) / 1e6).toFixed(2)} MB of Tang poems)`);
    out.result({
      clean_bytes_per_s: cleanMBs * 1e6, clean_seconds: bestClean, clean_bytes: corpus.bytes, clean_docs: corpus.docs,
      tokenizer_train_en_seconds: en.seconds, tokenizer_train_zh_seconds: zt.seconds,
      encode_en_bytes_per_s: encEn * 1e6, encode_zh_bytes_per_s: encZh * 1e6,
    });
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
