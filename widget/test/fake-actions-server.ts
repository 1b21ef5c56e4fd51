// A tiny local stand-in for the public actions API of /work/actions-contract.md, for the
// action UI's tests: `POST /api/actions/confirm` and `GET /api/actions/slots` as real HTTP on
// a random port with open CORS. It records what arrives; each test sets the answers.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeActionsServer {
  origin: string;
  /** Every confirm body received, in order. */
  confirms: Array<Record<string, unknown>>;
  /** Every slots query received, as its parameters. */
  slotQueries: Array<Record<string, string>>;
  /** The next confirm answers: [status, body], used in order; the last one repeats. */
  confirmAnswers: Array<[number, unknown]>;
  /** Free times by date. */
  slots: Map<string, string[]>;
  close(): Promise<void>;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "content-type, accept",
};

export async function startFakeActionsServer(): Promise<FakeActionsServer> {
  const confirms: Array<Record<string, unknown>> = [];
  const slotQueries: Array<Record<string, string>> = [];
  const fake = {
    confirmAnswers: [[200, { status: "done", message: "Done." }]] as Array<[number, unknown]>,
    slots: new Map<string, string[]>(),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const json = (status: number, body: unknown) =>
      res
        .writeHead(status, { ...CORS, "content-type": "application/json" })
        .end(JSON.stringify(body));
    if (req.method === "OPTIONS") {
      res.writeHead(204, CORS).end();
    } else if (url.pathname === "/api/actions/slots" && req.method === "GET") {
      const query = Object.fromEntries(url.searchParams);
      slotQueries.push(query);
      json(200, { date: query.date, slots: fake.slots.get(query.date ?? "") ?? [] });
    } else if (url.pathname === "/api/actions/confirm" && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        confirms.push(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
        const [status, body] =
          fake.confirmAnswers.length > 1 ? fake.confirmAnswers.shift()! : fake.confirmAnswers[0]!;
        json(status, body);
      });
    } else {
      json(404, { error: { code: "not_found", message: "No such route." } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    confirms,
    slotQueries,
    get confirmAnswers() {
      return fake.confirmAnswers;
    },
    set confirmAnswers(answers) {
      fake.confirmAnswers = answers;
    },
    slots: fake.slots,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
