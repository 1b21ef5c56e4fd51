// The CSP nonce of the document being rendered. entry.server.tsx provides it; root.tsx gives
// it to React Router's inline scripts. In the browser it is empty (browsers hide nonces from
// the DOM), which is fine: scripts added after hydration are loaded from our own origin.
import { createContext, useContext } from "react";

export const NonceContext = createContext<string | undefined>(undefined);

export function useNonce(): string | undefined {
  return useContext(NonceContext);
}
