// `npm run eval -- --dataset <folder> --split <name> [--json] [--answers] [--out-of-scope <folder>]
//   [--limit N] [--index <folder>]` (--index keeps the loaded tenant there and reuses it).
// Measures the product's retrieval (and with --answers, its answers) on a BEIR-layout folder;
// see scripts/eval/run.ts for what it does and README "Evaluation" for the figures.
import { parseArgs } from "node:util";
import { formatReport } from "./eval/format.ts";
import { runEval } from "./eval/run.ts";

const usage =
  "usage: npm run eval -- --dataset <folder> --split <name> [--json] [--answers] " +
  "[--out-of-scope <folder>] [--limit N] [--index <folder>]";

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        dataset: { type: "string" },
        split: { type: "string" },
        json: { type: "boolean", default: false },
        answers: { type: "boolean", default: false },
        "out-of-scope": { type: "string" },
        limit: { type: "string" },
        index: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!values.dataset || !values.split) {
    console.error(usage);
    return 2;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    console.error("--limit must be a positive integer");
    return 2;
  }
  const report = await runEval({
    dataset: values.dataset,
    split: values.split,
    answers: values.answers,
    outOfScope: values["out-of-scope"],
    limit,
    indexDir: values.index,
  });
  console.log(values.json ? JSON.stringify(report) : formatReport(report));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
