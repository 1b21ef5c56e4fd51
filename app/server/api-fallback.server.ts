// Unknown paths and wrong methods under /api/ (and /v1/) answer JSON, never the app's HTML
// error page: React Router renders its 404/405 as a document for a path no resource route
// matches, and answers a method a resource route has no handler for with its own
// `{ "message": … }`. server.js passes every response of the request handler through here; a
// response already in an error shape (a route's own 404, `{ "error": … }`) is kept.
// /api/ gets the one error shape; /v1/ (the OpenAI-compatible API) gets OpenAI's.
import { errorBody } from "./errors.server.ts";
import { mediaTypeOf, type RequestHead } from "./request.server.ts";

const API_PREFIX = "/api/";
const OPENAI_PREFIX = "/v1/";

export async function withJsonApiFallback(
  request: RequestHead & { readonly method: string },
  response: Response,
): Promise<Response> {
  if (response.status !== 404 && response.status !== 405) return response;
  const { pathname } = new URL(request.url);
  const openai = pathname.startsWith(OPENAI_PREFIX) || pathname === "/v1";
  if (!openai && !pathname.startsWith(API_PREFIX)) return response;
  if (mediaTypeOf(response.headers.get("content-type")) === "application/json") {
    const body: unknown = await response
      .clone()
      .json()
      .catch(() => null);
    if (typeof body === "object" && body !== null && "error" in body) return response;
  }
  const notFound = response.status === 404;
  const message = notFound
    ? `No such endpoint: ${pathname}.`
    : `This endpoint does not answer ${request.method}.`;
  const headers = new Headers({ "content-type": "application/json" });
  const allow = response.headers.get("allow");
  if (allow) headers.set("allow", allow);
  const body = openai
    ? {
        error: {
          message,
          type: "invalid_request_error",
          code: notFound ? "not_found" : "method_not_allowed",
        },
      }
    : errorBody(notFound ? "not_found" : "method_not_allowed", message);
  // The HTML body is not read: cancel it so its stream is released.
  void response.body?.cancel().catch(() => {});
  return new Response(JSON.stringify(body), { status: response.status, headers });
}
