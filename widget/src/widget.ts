// The embeddable chat widget's entry point, bundled by widget/build.ts into one IIFE that the
// server serves at /widget.js. A customer's page embeds it with:
//
//   <script src="https://HOST/widget.js" data-tenant="tn_…" async></script>
//
// Optional attributes: data-title, data-greeting, data-position (bottom-right | bottom-left)
// and data-color. See embed.ts for what booting does.
import { boot } from "./embed.ts";

boot(window);
