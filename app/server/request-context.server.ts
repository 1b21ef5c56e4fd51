// The context of the HTTP request being served: its id and, once a guard has resolved it,
// its tenant. Held in AsyncLocalStorage so every log line the request causes carries them
// (the logger's mixin reads them) without passing a logger through every call.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

export interface RequestContext {
  requestId: string;
  tenantId?: string;
}

// One store per process, even if this module is evaluated twice (dev server, tests).
const globalKey = Symbol.for("bitb.requestContext");
const holder = globalThis as { [globalKey]?: AsyncLocalStorage<RequestContext> };
const storage = (holder[globalKey] ??= new AsyncLocalStorage<RequestContext>());

/** An incoming X-Request-Id is kept when it is short and plain; otherwise we make one. */
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(incoming: string | string[] | null | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && ACCEPTED_ID.test(value) ? value : randomUUID();
}

export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Records the tenant the current request acts for (a no-op outside a request). */
export function setRequestTenant(tenantId: string): void {
  const context = storage.getStore();
  if (context) context.tenantId = tenantId;
}

/**
 * Runs `fn` outside any request: timers and work it starts (the ingestion queue's pump) do
 * not inherit the request that happened to wake them.
 */
export function outsideRequest<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The fields the logger adds to every line: pino's mixin. */
export function requestLogFields(): Record<string, string> {
  const context = storage.getStore();
  if (!context) return {};
  return context.tenantId
    ? { requestId: context.requestId, tenantId: context.tenantId }
    : { requestId: context.requestId };
}
