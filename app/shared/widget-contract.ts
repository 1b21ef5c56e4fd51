// What the widget and the server agree on outside the HTTP API: the event a page listens to
// when the widget is ready (the demo page waits for it) and the sessionStorage key under which
// the widget keeps a tenant's settings (the server inlines them under the same key in the
// admin's live preview). The widget bundles this file; it must stay free of imports.

/** Dispatched on `window` once the widget has drawn its launcher. */
export const READY_EVENT = "bitb:ready";

/** The sessionStorage key of a tenant's cached widget settings. */
export function settingsKey(tenantId: string): string {
  return `bitb:settings:${tenantId}`;
}
