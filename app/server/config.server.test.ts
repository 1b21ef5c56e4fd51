import path from "node:path";
import { describe, expect, it } from "vitest";
import { assertServingConfig, ConfigError, parseConfig } from "./config.server.ts";

describe("parseConfig", () => {
  it("works with no variables at all: local embeddings, extractive answers", () => {
    const config = parseConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.dataDir).toBe(path.resolve("./data"));
    expect(config.embeddings).toEqual({ kind: "local" });
    expect(config.llm).toEqual({ kind: "extractive" });
    expect(config.DEMO_TENANT).toBe(true);
  });

  it("names the bad variable", () => {
    expect(() => parseConfig({ PORT: "eighty" })).toThrow(ConfigError);
    expect(() => parseConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => parseConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
    expect(() => parseConfig({ DEMO_TENANT: "maybe" })).toThrow(/DEMO_TENANT/);
    expect(() => parseConfig({ LLM_BASE_URL: "ftp://x" })).toThrow(/LLM_BASE_URL/);
  });

  it("requires a model with an OpenAI-compatible base URL", () => {
    expect(() => parseConfig({ LLM_BASE_URL: "http://127.0.0.1:1/v1" })).toThrow(/LLM_MODEL/);
    expect(() => parseConfig({ EMBEDDINGS_BASE_URL: "http://127.0.0.1:1/v1" })).toThrow(
      /EMBEDDINGS_MODEL/,
    );
  });

  it("keeps metrics off and tracing off by default, and checks their settings", () => {
    const none = parseConfig({});
    expect(none.METRICS_TOKEN).toBeUndefined();
    expect(none.METRICS_PORT).toBeUndefined();
    expect(none.METRICS_HOST).toBe("127.0.0.1");
    expect(none.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    const on = parseConfig({
      METRICS_TOKEN: "0123456789abcdef",
      METRICS_PORT: "9464",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
    });
    expect(on.METRICS_PORT).toBe(9464);
    expect(on.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://collector:4318");
    expect(parseConfig({ METRICS_PORT: " " }).METRICS_PORT).toBeUndefined();
    expect(() => parseConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN/);
    expect(() => parseConfig({ METRICS_PORT: "99999" })).toThrow(/METRICS_PORT/);
    expect(() => parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://x" })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  it("refuses an overlap as large as the chunk", () => {
    expect(() => parseConfig({ CHUNK_MAX_TOKENS: "100", CHUNK_OVERLAP_TOKENS: "100" })).toThrow(
      /CHUNK_OVERLAP_TOKENS/,
    );
  });

  it("chooses Groq before an OpenAI-compatible server", () => {
    const both = parseConfig({
      GROQ_API_KEY: "gsk_test",
      LLM_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_MODEL: "m",
    });
    expect(both.llm).toMatchObject({
      kind: "groq",
      apiKey: "gsk_test",
      model: "llama-3.3-70b-versatile",
    });
    const openai = parseConfig({
      LLM_BASE_URL: "http://127.0.0.1:1/v1",
      LLM_MODEL: "m",
      LLM_API_KEY: " ",
    });
    expect(openai.llm).toEqual({
      kind: "openai",
      baseUrl: "http://127.0.0.1:1/v1",
      apiKey: undefined,
      model: "m",
    });
  });

  it("configures remote embeddings", () => {
    const config = parseConfig({
      EMBEDDINGS_BASE_URL: "http://127.0.0.1:9/v1",
      EMBEDDINGS_MODEL: "nomic",
      EMBEDDINGS_BATCH_SIZE: "8",
    });
    expect(config.embeddings).toEqual({
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: undefined,
      model: "nomic",
      batchSize: 8,
    });
  });

  it("treats empty strings as unset and parses booleans", () => {
    const config = parseConfig({ GROQ_API_KEY: "", PUBLIC_URL: "", DEMO_TENANT: "0" });
    expect(config.llm.kind).toBe("extractive");
    expect(config.PUBLIC_URL).toBeUndefined();
    expect(config.DEMO_TENANT).toBe(false);
  });
  it("reads the LiteFS settings: off by default, the primary's URL required outside Fly", () => {
    expect(parseConfig({}).litefs).toBeUndefined();
    expect(() => parseConfig({ LITEFS: "true" })).toThrow(/PRIMARY_URL/);
    expect(() => parseConfig({ LITEFS: "true", PRIMARY_URL: "ftp://x" })).toThrow(/PRIMARY_URL/);
    expect(
      parseConfig({ LITEFS: "true", FLY_APP_NAME: "bitb", DATA_DIR: "/litefs" }).litefs,
    ).toEqual({
      dir: "/litefs",
      primaryUrl: "http://{primary}.vm.bitb.internal:8080",
    });
    expect(
      parseConfig({ LITEFS: "true", PRIMARY_URL: "http://{primary}:3000", LITEFS_DIR: "/mnt/l" })
        .litefs,
    ).toEqual({ dir: "/mnt/l", primaryUrl: "http://{primary}:3000" });
  });

  it("guards the HTTP server against slow and greedy clients by default", () => {
    const none = parseConfig({});
    expect(none.HTTP_HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(none.HTTP_REQUEST_TIMEOUT_MS).toBe(120_000);
    expect(none.maxConnectionsPerAddress).toBe(64);
    // Behind a proxy every connection comes from the proxy: no per-address cap unless asked.
    expect(parseConfig({ CLIENT_IP_HEADER: "fly-client-ip" }).maxConnectionsPerAddress).toBe(0);
    expect(
      parseConfig({ CLIENT_IP_HEADER: "fly-client-ip", HTTP_MAX_CONNECTIONS_PER_ADDRESS: "500" })
        .maxConnectionsPerAddress,
    ).toBe(500);
    expect(() => parseConfig({ HTTP_HEADERS_TIMEOUT_MS: "5" })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
    expect(() =>
      parseConfig({ HTTP_HEADERS_TIMEOUT_MS: "60000", HTTP_REQUEST_TIMEOUT_MS: "30000" }),
    ).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not be larger/);
    expect(() => parseConfig({ HTTP_MAX_CONNECTIONS_PER_ADDRESS: "-1" })).toThrow(
      /HTTP_MAX_CONNECTIONS_PER_ADDRESS/,
    );
  });

  it("takes the app's host names from PUBLIC_URL and ALLOWED_HOSTS, required to serve in production", () => {
    expect(parseConfig({}).allowedHosts).toEqual([]);
    expect(
      parseConfig({
        PUBLIC_URL: "https://Chat.Example.com",
        ALLOWED_HOSTS: "a.example, .b.example",
      }).allowedHosts,
    ).toEqual(["chat.example.com", "a.example", ".b.example"]);
    expect(parseConfig({ FLY_APP_NAME: "bitb" }).allowedHosts).toEqual(["bitb.fly.dev"]);
    expect(() => parseConfig({ ALLOWED_HOSTS: "https://a.example" })).toThrow(/ALLOWED_HOSTS/);
    expect(() => parseConfig({ ALLOWED_HOSTS: "a.example:3000" })).toThrow(/ALLOWED_HOSTS/);

    // The CLI parses the same environment and needs no public origin; a server does.
    const production = parseConfig({ NODE_ENV: "production" });
    expect(() => assertServingConfig(production)).toThrow(ConfigError);
    expect(() => assertServingConfig(production)).toThrow(
      /PUBLIC_URL: required with NODE_ENV=production/,
    );
    expect(() =>
      assertServingConfig(parseConfig({ NODE_ENV: "production", PUBLIC_URL: "https://c.example" })),
    ).not.toThrow();
    expect(() =>
      assertServingConfig(parseConfig({ NODE_ENV: "production", ALLOWED_HOSTS: "c.example" })),
    ).not.toThrow();
    // Unset NODE_ENV (npm start on a laptop) serves, answering loopback names only.
    expect(() => assertServingConfig(parseConfig({}))).not.toThrow();
  });
});
