// The runtime's core parts as a type: configuration, logger, control database and the tenant
// pool. The parts of the runtime (the queue, the crawler, the schedulers, replication) name
// what they need from here, so they never import the Runtime type that names them
// (./runtime/runtime.server.ts extends this one).
import type { TenantPool } from "#tenants/store.ts";
import type { Config } from "./config.server.ts";
import type { ControlDb } from "./control-db.server.ts";
import type { Logger } from "./logger.server.ts";

export interface CoreParts {
  config: Config;
  logger: Logger;
  control: ControlDb;
  tenants: TenantPool;
}
