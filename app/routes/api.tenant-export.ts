// GET /api/tenants/:tenantId/export — a platform admin downloads the tenant as one consistent
// SQLite file (its registry entry included), to import with `bitb tenant:import` elsewhere.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { requireAdmin } from "#app/server/access/auth.server.ts";
import { ApiError, errorResponse } from "#app/server/errors.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import { exportTenant } from "#app/server/tenancy/data.server.ts";
import type { Route } from "./+types/api.tenant-export";

export async function loader({ request, params }: Route.LoaderArgs) {
  const runtime = await getRuntime();
  let folder: string | undefined;
  try {
    const admin = await requireAdmin(runtime, request);
    if (admin.role !== "platform") {
      throw new ApiError("forbidden", "Only platform admins export tenants.");
    }
    // Outside DATA_DIR: under LiteFS that folder holds databases only.
    folder = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-export-"));
    const file = path.join(folder, "tenant.db");
    const { tenant, bytes } = exportTenant(runtime, params.tenantId, file, `admin:${admin.id}`);
    runtime.logger.info({ tenantId: tenant.id, adminId: admin.id, bytes }, "tenant exported");
    const stream = fs.createReadStream(file);
    const cleanup = () => fs.rmSync(folder as string, { recursive: true, force: true });
    stream.once("close", cleanup);
    const day = new Date().toISOString().slice(0, 10);
    return new Response(Readable.toWeb(stream) as ReadableStream<Uint8Array>, {
      headers: {
        "Content-Type": "application/vnd.sqlite3",
        "Content-Length": String(bytes),
        "Content-Disposition": `attachment; filename="${tenant.id}-${day}.db"`,
        "Cache-Control": "no-store",
      },
    });
  } catch (error) {
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
    return errorResponse(error);
  }
}
