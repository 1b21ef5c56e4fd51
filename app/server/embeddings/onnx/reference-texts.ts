// The texts whose tfjs vectors are stored in reference-vectors.json: the ONNX graph must give
// the same vectors (cosine ≥ 0.9999) on each. Short questions, chunks longer than the 96 tokens
// the workers send, unicode of several scripts, and near-empty strings (decision 041). Plain
// data, shared by the unit test and scripts/bench/encoder-parity.ts.

const prose =
  "The refund policy covers items that arrive damaged or that do not match their description. " +
  "Customers send the item back within thirty days, and the money is returned to the card they " +
  "paid with, usually within five working days after the warehouse has checked the parcel. ";

const abstract =
  "Alterations of the architecture of cerebral white matter in the developing human brain can " +
  "affect cortical development and result in functional disabilities. A line scan " +
  "diffusion-weighted magnetic resonance imaging sequence with diffusion tensor analysis was " +
  "applied to measure the apparent diffusion coefficient, to calculate relative anisotropy, and " +
  "to delineate three-dimensional fiber architecture in cerebral white matter in preterm infants " +
  "(n = 17) and full-term infants (n = 7).";

const words = "refund shipping order invoice widget tenant europe warranty policy account".split(
  " ",
);
const wordSalad = (count: number, seed: number) =>
  Array.from({ length: count }, (_, i) => words[(seed * 7 + i * (seed + 3)) % words.length]).join(
    " ",
  );

export const REFERENCE_TEXTS: readonly string[] = [
  // questions
  "How do I get a refund for my order?",
  "refund",
  "What about 002 — LiteFS for replication across regions, with an exit path? (visitor 17)",
  "Can I change my delivery address after the order has shipped?",
  "Is the vaccine safe for pregnant women?",
  "What is the capital of Australia?",
  "Where did the Normans settle in the 10th and 11th centuries?",
  "0-dimensional biomaterials lack inductive properties.",
  "1 in 5 million in UK have abnormal PrP positivity.",
  "How many tenants fit on one 2-core machine, and what is the p95 latency?",
  // passages, several of them longer than 96 tokens
  "Shipping to Europe takes five days.",
  `Refunds > Damaged items\n\n${prose}`,
  prose.repeat(3),
  `Microstructural development of human newborn cerebral white matter\n\n${abstract}`,
  abstract.repeat(2),
  wordSalad(95, 1),
  wordSalad(96, 2),
  wordSalad(97, 3),
  wordSalad(300, 4),
  "The refund policy covers damaged items. ".repeat(400),
  "Title\n\nA chunk's text, with punctuation; and (brackets). Numbers: 3.14, 1,000,000, 2026-12-07.",
  // other scripts and symbols
  "Wie bekomme ich mein Geld zurück, wenn die Ware beschädigt ankommt?",
  "¿Cuánto tiempo tarda el envío a España y Portugal?",
  "Émoji 🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, ﬁ ligatures ① and 日本語のテキスト",
  "東京都は日本の首都であり、世界最大の都市圏を持つ。",
  "Привет, как дела? Это тест кодировщика.",
  "مرحبا بالعالم",
  "∑ x² ≤ ∞ — “quotes” and ‘single’ and … ellipsis",
  "🙂🙂🙂",
  "unknown \u0000\u0001 symbols\ttabs\r\nand lines",
  // nearly empty
  "",
  " ",
  "\n",
  ".",
  "?",
  "a",
  "  two  spaces ",
];
