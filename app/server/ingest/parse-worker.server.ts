// The entry point of a parsing worker thread (sandbox.server.ts): piscina calls the default
// export with one document at a time. Built to build/parse-worker.js for the server and CLI.
import { prepareDocument, type PrepareTask } from "./prepare.server.ts";

export default function parseInWorker(task: PrepareTask) {
  return prepareDocument(task);
}
