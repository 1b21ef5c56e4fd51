// What a machine does because of its LiteFS role: the primary runs scheduled backups, website
// crawls and makes the secrets replicas read; under LiteFS every machine forwards its outbox
// and follows the role as the Consul lease moves (docs/decisions/023).
import { getOrCreateSecret } from "../control-db.server.ts";
import { sessionSecret } from "../access/visitor-session.server.ts";
import { scheduleBackups } from "../backup/backup.server.ts";
import type { Runtime } from "../runtime/runtime.server.ts";
import { outboxSecret } from "./apply.server.ts";
import { OutboxForwarder } from "./forwarder.server.ts";
import type { Role } from "./role.server.ts";

/**
 * Under LiteFS: forwards the outbox, and follows changes of role (the Consul lease moves). A
 * machine that becomes the primary starts ingestion (jobs persisted by the old primary resume
 * here once their leases run out) and backups; one that stops being it stops both.
 */
export function followRole(runtime: Runtime, runQueue: boolean): void {
  const { config, logger, replication } = runtime;
  const { outbox, role } = replication;
  if (!config.litefs || !outbox) return;
  const template = config.litefs.primaryUrl;
  runtime.forwarder = new OutboxForwarder({
    outbox,
    role,
    primaryUrl: (host) => template.replaceAll("{primary}", host),
    runtime,
    logger: logger.child({ module: "outbox" }),
    intervalMs: config.OUTBOX_FLUSH_MS,
    batchSize: config.OUTBOX_BATCH_SIZE,
    timeoutMs: config.FETCH_TIMEOUT_MS,
  });
  runtime.forwarder.start();
  role.watch((next: Role) => {
    if (next.primary) {
      logger.info("LiteFS: this machine is now the primary");
      if (runQueue) runtime.queue.start();
      startPrimaryDuties(runtime);
    } else {
      logger.info({ primary: next.primaryHost }, "LiteFS: this machine is now a replica");
      runtime.backups?.stop();
      runtime.backups = undefined;
      void runtime.crawler.stop();
      void runtime.queue.stop();
    }
  });
}

/**
 * What only the primary does: scheduled backups, website crawls and their scheduled
 * re-crawls, and the secrets replicas read.
 */
export function startPrimaryDuties(runtime: Runtime): void {
  const { config } = runtime;
  if (config.litefs) {
    // Made here so replicas never need to write them.
    outboxSecret(runtime.control);
    sessionSecret(runtime.control);
    getOrCreateSecret(runtime.control, "session");
    getOrCreateSecret(runtime.control, "sign-in-failures"); // access/sign-in-throttle.server.ts
  }
  if (config.backupDir && !runtime.backups) {
    runtime.backups = scheduleBackups(runtime, {
      dir: config.backupDir,
      keep: config.BACKUP_KEEP,
      intervalMs: config.BACKUP_INTERVAL_MS,
      s3: runtime.backupBucket,
    });
  }
  runtime.crawler.start();
}
