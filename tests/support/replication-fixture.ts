// A control database, a tenant pool and one tenant in a temporary folder, with a role read
// from a LiteFS-like mount, for the replication unit tests.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TenantId } from "#tenants/id.ts";
import { TenantPool } from "#tenants/store.ts";
import { FakeEmbedder } from "./fake-embedder.ts";
import { parseConfig } from "../../app/server/config.server.ts";
import {
  openControlDb,
  type ControlDb,
  type TenantRecord,
} from "../../app/server/control-db.server.ts";
import { silentLogger } from "../../app/server/logger.server.ts";
import { createTenant } from "../../app/server/tenancy/tenants.server.ts";
import { Outbox } from "../../app/server/replication/outbox.server.ts";
import { ReplicationRole } from "../../app/server/replication/role.server.ts";

export interface ReplicationFixture {
  dir: string;
  control: ControlDb;
  tenants: TenantPool;
  tenant: TenantRecord;
  outbox: Outbox;
  role: ReplicationRole;
  logger: typeof silentLogger;
  replication: { role: ReplicationRole; outbox: Outbox };
  /** Makes this machine a replica (a `.primary` file) or the primary again. */
  setReplica(replica: boolean): void;
  close(): void;
}

export function replicationFixture(): ReplicationFixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitb-replication-"));
  const embedder = new FakeEmbedder({ dimension: 8 });
  const control = openControlDb(dir);
  const tenants = new TenantPool(dir, { model: embedder.model, dimension: embedder.dimension }, 4);
  const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: "silent" });
  const tenant = createTenant({ control, tenants, config }, { name: "Replicated" });
  const outbox = new Outbox(path.join(dir, "local"));
  // No caching: tests flip the role and read it at once.
  const role = new ReplicationRole(dir, 0);
  return {
    dir,
    control,
    tenants,
    tenant,
    outbox,
    role,
    logger: silentLogger,
    replication: { role, outbox },
    setReplica(replica) {
      const file = path.join(dir, ".primary");
      if (replica) fs.writeFileSync(file, "primary-host\n");
      else fs.rmSync(file, { force: true });
    },
    close() {
      role.stop();
      outbox.close();
      tenants.closeAll();
      control.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const tenantIdOf = (fixture: ReplicationFixture): TenantId => fixture.tenant.id;
