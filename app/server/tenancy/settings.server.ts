// A tenant's settings that admins change: its LLM model override and whether its stored
// transcripts are PII-masked.
import { z } from "zod";
import {
  setTenantMaskTranscripts,
  setTenantModel,
  getTenant,
  type TenantRecord,
} from "../control-db.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { widgetSettingsUpdateSchema } from "../widget-config/settings.server.ts";

/** A provider's model name: `llama-3.3-70b-versatile`, `qwen2.5:7b`, `org/model-name`. */
export const llmModelSchema = z
  .string()
  .trim()
  .max(100, "Model names are at most 100 characters.")
  .regex(/^[\w.:/-]*$/, "Use letters, digits and . : / _ - only.")
  .transform((v) => (v === "" ? null : v));

export const tenantSettingsSchema = z
  .strictObject({
    llm_model: z.union([llmModelSchema, z.null()]).optional(),
    widget: widgetSettingsUpdateSchema.optional(),
    mask_transcripts: z.boolean().optional(),
    /** Platform admins only: a suspended tenant's assistant answers nobody. */
    status: z.enum(["active", "suspended"]).optional(),
  })
  .refine(
    (body) =>
      body.llm_model !== undefined ||
      body.widget !== undefined ||
      body.mask_transcripts !== undefined ||
      body.status !== undefined,
    { message: "Send llm_model, widget, mask_transcripts and/or status." },
  );

/** Sets (or, with null, clears) the tenant's model override; returns the updated tenant. */
export function updateTenantModel(
  runtime: Pick<Runtime, "control">,
  tenant: TenantRecord,
  model: string | null,
): TenantRecord {
  setTenantModel(runtime.control, tenant.id, model);
  return getTenant(runtime.control, tenant.id) as TenantRecord;
}

/** Turns PII masking of the tenant's stored transcripts on or off; returns the updated tenant. */
export function updateTenantMaskTranscripts(
  runtime: Pick<Runtime, "control">,
  tenant: TenantRecord,
  mask: boolean,
): TenantRecord {
  setTenantMaskTranscripts(runtime.control, tenant.id, mask);
  return getTenant(runtime.control, tenant.id) as TenantRecord;
}
