// This machine's role under LiteFS (docs/decisions/023), read through litefs-js: a replica
// finds a `.primary` file naming the primary's hostname in the LiteFS mount; the primary finds
// none. The role can change at any time (the Consul lease moves), so it is re-read at most
// every `cacheMs`, and watchers hear of each change. Without LiteFS this machine is always the
// primary.
import { getInstanceInfoSync } from "litefs-js";

export interface Role {
  primary: boolean;
  /** The primary's hostname (Fly machine id), when this machine is a replica. */
  primaryHost: string | undefined;
}

const PRIMARY: Role = { primary: true, primaryHost: undefined };

export class ReplicationRole {
  private role: Role;
  private readAt = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `litefsDir` undefined: not under LiteFS, always the primary. */
  constructor(
    readonly litefsDir: string | undefined,
    private readonly cacheMs = 250,
  ) {
    this.role = this.read();
  }

  get enabled(): boolean {
    return this.litefsDir !== undefined;
  }

  current(now = Date.now()): Role {
    if (this.litefsDir !== undefined && now - this.readAt >= this.cacheMs) {
      this.role = this.read();
      this.readAt = now;
    }
    return this.role;
  }

  isPrimary(): boolean {
    return this.current().primary;
  }

  /** Calls `onChange` whenever the role changes (checked every `pollMs`). */
  watch(onChange: (role: Role, previous: Role) => void, pollMs = 1000): void {
    if (this.litefsDir === undefined || this.timer) return;
    let last = this.current();
    this.timer = setInterval(() => {
      const next = this.current();
      if (next.primary !== last.primary || next.primaryHost !== last.primaryHost) {
        const previous = last;
        last = next;
        onChange(next, previous);
      }
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private read(): Role {
    if (this.litefsDir === undefined) return PRIMARY;
    const info = getInstanceInfoSync(this.litefsDir);
    return info.currentIsPrimary
      ? PRIMARY
      : { primary: false, primaryHost: info.primaryInstance || "unknown" };
  }
}
