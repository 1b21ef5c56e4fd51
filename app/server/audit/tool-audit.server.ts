// The audit entry of one tool call (an MCP tool now; the bot's actions later): who called
// which tool with which arguments, the outcome and the latency. Tool calls are asks of the
// knowledge base, so they use the audit log's `ask` kind with the action `<via>:<tool>`.
// Arguments are kept masked: free text (a question, a search query) only as its length, with
// the SHA-256 of its PII-masked text in question_sha256 like an ask's; every other string
// PII-masked and cut short. Failing to audit never fails the call; it is logged instead.
import { questionSha256 } from "./audit.server.ts";
import type { TenantRecord } from "../control-db.server.ts";
import { maskPii } from "../pii/mask.server.ts";
import { appendAuditEntries } from "../replication/writes.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";

const MAX_STRING_CHARS = 120;
const MAX_DEPTH = 4;

/** The arguments as the audit log keeps them (see the module comment). */
export function maskToolArguments(
  args: Record<string, unknown>,
  freeTextKeys: readonly string[],
): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    masked[key] =
      freeTextKeys.includes(key) && typeof value === "string"
        ? `[text: ${value.length} chars]`
        : maskValue(value, 1);
  }
  return masked;
}

function maskValue(value: unknown, depth: number): unknown {
  if (typeof value === "string") {
    const text = maskPii(value);
    return text.length > MAX_STRING_CHARS ? `${text.slice(0, MAX_STRING_CHARS - 1)}…` : text;
  }
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(value)) return value.map((item) => maskValue(item, depth + 1));
  if (typeof value === "object" && value !== undefined) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, maskValue(item, depth + 1)]),
    );
  }
  return undefined;
}

export interface ToolCallAudit {
  /** `mcp` for the MCP endpoint. */
  via: string;
  tool: string;
  /** `key:<id>` for a secret key. */
  actor: string;
  /** Already masked by maskToolArguments. */
  arguments: Record<string, unknown>;
  /** The question or query the call carried, hashed (after PII masking) like an ask's. */
  question: string | null;
  /** `ok`, `answered`, `abstained`, or the error code that refused or failed the call. */
  outcome: string;
  latencyMs: number;
  promptTokens?: number;
  completionTokens?: number;
  cacheHit?: boolean | null;
}

export function auditToolCall(
  runtime: Pick<Runtime, "tenants" | "logger"> & Partial<Pick<Runtime, "replication">>,
  tenant: TenantRecord,
  call: ToolCallAudit,
): void {
  try {
    // On a LiteFS replica the entry goes to the outbox (docs/decisions/023).
    appendAuditEntries(runtime, tenant, [
      {
        kind: "ask",
        actor: call.actor,
        action: `${call.via}:${call.tool}`,
        outcome: call.outcome,
        questionSha256: call.question === null ? null : questionSha256(maskPii(call.question)),
        latencyMs: Math.round(call.latencyMs),
        promptTokens: call.promptTokens ?? 0,
        completionTokens: call.completionTokens ?? 0,
        cacheHit: call.cacheHit ?? null,
        detail: { arguments: call.arguments },
      },
    ]);
  } catch (error) {
    runtime.logger.error(
      { err: error, tenantId: tenant.id, tool: call.tool },
      "tool audit write failed",
    );
  }
}
