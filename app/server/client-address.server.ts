// The address of the client that sent a request: the socket's peer address, which server.js
// passes to React Router as load context, or — behind a trusted proxy named by
// CLIENT_IP_HEADER — the address that proxy reports. Used to count failed sign-ins per client.
import type { Config } from "./config.server.ts";

declare module "react-router" {
  interface AppLoadContext {
    /** The TCP peer's address (set by server.js). */
    clientAddress?: string;
  }
}

const MAX_ADDRESS_LENGTH = 64;

export function clientAddressOf(
  request: { readonly headers: Pick<Headers, "get"> },
  context: { clientAddress?: string } | undefined,
  config: Pick<Config, "CLIENT_IP_HEADER">,
): string | null {
  if (config.CLIENT_IP_HEADER) {
    const raw = request.headers.get(config.CLIENT_IP_HEADER);
    // X-Forwarded-For grows to the right: the last entry is the one our proxy added.
    const value = raw?.split(",").at(-1)?.trim();
    if (value) return value.slice(0, MAX_ADDRESS_LENGTH);
  }
  const address = context?.clientAddress;
  return address ? address.slice(0, MAX_ADDRESS_LENGTH) : null;
}
