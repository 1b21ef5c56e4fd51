// Caches real embeddings of real text for `npm run bench:retrieval` (see real-text.ts):
//   npx tsx scripts/bench/embed-real-text.ts [--count 102000] [--out .cache/bench/real.f32]
import path from "node:path";
import { parseArgs } from "node:util";
import { cacheRealVectors, realTexts } from "./real-text.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "102000" },
    out: { type: "string", default: ".cache/bench/real-use-lite-512.f32" },
    workers: { type: "string", default: "2" },
  },
});
const { queries, passages } = realTexts();
console.log(`${queries.length} queries, ${passages.length} passages available`);
const rows = await cacheRealVectors(
  path.resolve(values.out),
  [...queries, ...passages],
  Number(values.count),
  Number(values.workers),
);
console.log(`${rows} rows in ${values.out}`);
