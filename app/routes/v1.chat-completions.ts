// POST /v1/chat/completions — an OpenAI-compatible chat completion answered from the secret
// key's tenant's knowledge base, through the same path as POST /api/ask: its limits, quota,
// audit and caches (app/server/openai-api/chat.server.ts, docs/decisions/044). Streams
// `data:` chunks ending `data: [DONE]` with `stream: true`. Errors in OpenAI's shape.
import { ApiError } from "#app/server/errors.server.ts";
import {
  CHAT_METHODS,
  chatCompletion,
  openAiErrorResponse,
} from "#app/server/openai-api/chat.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/v1.chat-completions";

export async function loader() {
  return openAiErrorResponse(
    new ApiError("method_not_allowed", "Use POST.", { Allow: CHAT_METHODS }),
  );
}

export async function action({ request, context }: Route.ActionArgs) {
  const receivedAt = performance.now();
  try {
    if (request.method !== "POST") {
      throw new ApiError("method_not_allowed", "Use POST.", { Allow: CHAT_METHODS });
    }
    return await chatCompletion(await getRuntime(), request, context, receivedAt);
  } catch (error) {
    return openAiErrorResponse(error);
  }
}
