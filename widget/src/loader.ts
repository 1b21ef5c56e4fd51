// The tiny script customers embed as /widget.js. It only adds the versioned, immutable
// bundle (widget/bitb.<contenthash>.js, cached for a year) next to itself, copying the tag's
// data-* attributes so the bundle reads its configuration from its own tag. The loader is
// cached for minutes, so a new release reaches every site within minutes of a deploy.
declare const __BITB_BUNDLE__: string;

const loader = document.currentScript as HTMLScriptElement | null;
if (loader?.src) {
  const bundle = document.createElement("script");
  for (const { name, value } of Array.from(loader.attributes)) {
    if (name.startsWith("data-")) bundle.setAttribute(name, value);
  }
  if (loader.nonce) bundle.nonce = loader.nonce;
  bundle.src = new URL(__BITB_BUNDLE__, loader.src).href;
  bundle.async = true;
  (document.head || document.documentElement).append(bundle);
} else {
  console.error("[BiTB] load widget.js with a <script src> tag");
}
