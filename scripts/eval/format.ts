// Renders an eval report as the plain text the eval command prints without --json.
import type { EvalReport } from "./run.ts";

const fixed = (value: number, digits = 3) => value.toFixed(digits);
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

export function formatReport(report: EvalReport): string {
  const { ingestion, retrieval, calibration } = report;
  const lines = [
    `${report.dataset} (${report.split}) — embedder ${report.embedder}, answerer ${report.answerer}`,
    `ingestion   ${ingestion.documents} documents, ${ingestion.chunks} chunks in ${ingestion.seconds} s ` +
      `(${ingestion.documentsPerSecond} docs/s, ${ingestion.chunksPerSecond} chunks/s` +
      `${ingestion.failedJobs > 0 ? `, ${ingestion.failedJobs} failed` : ""}` +
      `${ingestion.workers ? `, ${ingestion.workers} encoder workers` : ""})` +
      `${ingestion.reused ? " — reused from an earlier run" : ""}`,
    `fusion      vector weight ${calibration.vectorWeight ?? "default"}, keyword weight ` +
      `${calibration.keywordWeight} (calibrated on ${calibration.pseudoQueries} titles in ` +
      `${calibration.seconds} s)`,
    `retrieval   ${retrieval.queries} queries: nDCG@10 ${fixed(retrieval.ndcgAt10)}  ` +
      `Recall@10 ${fixed(retrieval.recallAt10)}  Recall@100 ${fixed(retrieval.recallAt100)}  ` +
      `MRR@10 ${fixed(retrieval.mrrAt10)}`,
    `            query latency p50 ${retrieval.latency.p50Ms} ms, p95 ${retrieval.latency.p95Ms} ms ` +
      `(${retrieval.concurrency} in flight)`,
  ];
  if (report.answers) {
    const answers = report.answers;
    lines.push(
      `answers     ${answers.questions} questions: answered ${percent(answers.answered)}, ` +
        `contain a gold answer ${percent(answers.containsGold)}, ` +
        `cite a gold document ${percent(answers.citesGoldDocument)}`,
      `            ask latency p50 ${answers.latency.p50Ms} ms, p95 ${answers.latency.p95Ms} ms`,
    );
  }
  if (report.outOfScope) {
    const outOfScope = report.outOfScope;
    lines.push(
      `out of scope ${outOfScope.questions} questions of ${outOfScope.folder}: ` +
        `abstained on ${percent(outOfScope.abstained)}`,
    );
  }
  return lines.join("\n");
}
