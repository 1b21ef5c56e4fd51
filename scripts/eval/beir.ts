// Reads an evaluation set in BEIR layout: corpus.jsonl ({_id, title, text} a line),
// queries.jsonl ({_id, text}), qrels/<split>.tsv (query-id, corpus-id, score, header line)
// and, where present, qa.jsonl (questions with gold answers). Validates as it reads, so a
// malformed folder fails with the file and line at fault.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import type { Judgements } from "./metrics.ts";

export interface CorpusDocument {
  id: string;
  title: string;
  text: string;
}

export interface EvalQuery {
  id: string;
  text: string;
}

export interface QaItem {
  id: string;
  question: string;
  answers: string[];
  goldDocumentIds: string[];
}

export interface BeirSet {
  name: string;
  folder: string;
  corpus: CorpusDocument[];
  queries: Map<string, EvalQuery>;
  /** Only the queries judged in the split. */
  qrels: Map<string, Judgements>;
}

const id = z.union([z.string().min(1), z.number()]).transform(String);
const documentLine = z.object({ _id: id, title: z.string().default(""), text: z.string() });
const queryLine = z.object({ _id: id, text: z.string() });
// qa.jsonl comes in two shapes: one gold document (xquad) or several (covid_faq).
const qaLine = z
  .object({
    id: id,
    question: z.string().min(1),
    answers: z.array(z.string()),
    gold_doc_id: id.optional(),
    gold_doc_ids: z.array(id).optional(),
  })
  .transform((line) => ({
    id: line.id,
    question: line.question,
    answers: line.answers,
    goldDocumentIds: line.gold_doc_ids ?? (line.gold_doc_id ? [line.gold_doc_id] : []),
  }));

export class EvalSetError extends Error {
  override name = "EvalSetError";
}

function readJsonLines<T>(file: string, schema: z.ZodType<T>): T[] {
  if (!fs.existsSync(file)) throw new EvalSetError(`${file} does not exist`);
  const rows: T[] = [];
  fs.readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, index) => {
      if (line.trim() === "") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new EvalSetError(`${file}:${index + 1} is not JSON`);
      }
      const result = schema.safeParse(parsed);
      if (!result.success) {
        throw new EvalSetError(`${file}:${index + 1}: ${result.error.issues[0]?.message}`);
      }
      rows.push(result.data);
    });
  return rows;
}

export function readQrels(file: string): Map<string, Judgements> {
  if (!fs.existsSync(file)) throw new EvalSetError(`${file} does not exist`);
  const qrels = new Map<string, Map<string, number>>();
  fs.readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, index) => {
      const fields = line.trim().split("\t");
      if (fields.length < 3 || line.trim() === "") return;
      const [queryId, documentId, grade] = fields as [string, string, string];
      const score = Number(grade);
      // The header line ("query-id corpus-id score") is the one line whose score is no number.
      if (!Number.isFinite(score)) {
        if (index === 0) return;
        throw new EvalSetError(`${file}:${index + 1}: score ${grade} is not a number`);
      }
      let judgements = qrels.get(queryId);
      if (!judgements) qrels.set(queryId, (judgements = new Map()));
      judgements.set(documentId, score);
    });
  return qrels;
}

export function loadBeirSet(folder: string, split: string): BeirSet {
  const corpus = readJsonLines(path.join(folder, "corpus.jsonl"), documentLine).map((d) => ({
    id: d._id,
    title: d.title,
    text: d.text,
  }));
  const queries = new Map(
    readJsonLines(path.join(folder, "queries.jsonl"), queryLine).map((q) => [
      q._id,
      { id: q._id, text: q.text },
    ]),
  );
  const qrels = readQrels(path.join(folder, "qrels", `${split}.tsv`));
  for (const queryId of qrels.keys()) {
    if (!queries.has(queryId)) {
      throw new EvalSetError(
        `qrels/${split}.tsv judges query ${queryId}, absent from queries.jsonl`,
      );
    }
  }
  return { name: path.basename(path.resolve(folder)), folder, corpus, queries, qrels };
}

/** The questions with gold answers of a folder, or an error naming the missing file. */
export function loadQa(folder: string): QaItem[] {
  return readJsonLines(path.join(folder, "qa.jsonl"), qaLine);
}

/**
 * The questions of a folder for abstention tests: qa.jsonl when present, else queries.jsonl.
 */
export function loadQuestions(folder: string): string[] {
  return fs.existsSync(path.join(folder, "qa.jsonl"))
    ? loadQa(folder).map((item) => item.question)
    : readJsonLines(path.join(folder, "queries.jsonl"), queryLine).map((q) => q.text);
}
