// What a tenant's stored transcripts keep of a question or an answer: the text as it was, or
// PII-masked when the tenant turned on `maskTranscripts` (tenant settings).
import type { TenantRecord } from "../control-db.server.ts";
import { maskPii } from "./mask.server.ts";

export function transcriptText(
  tenant: Pick<TenantRecord, "maskTranscripts">,
  text: string,
): string {
  return tenant.maskTranscripts ? maskPii(text) : text;
}
