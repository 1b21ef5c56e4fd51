// GET /v1/models — the OpenAI-compatible API's model list: the secret key's tenant, named by
// its id (app/server/openai-api/chat.server.ts, docs/decisions/044). Errors in OpenAI's shape.
import { ApiError } from "#app/server/errors.server.ts";
import {
  listModels,
  MODELS_METHODS,
  openAiErrorResponse,
} from "#app/server/openai-api/chat.server.ts";
import { getRuntime } from "#app/server/runtime/build.server.ts";
import type { Route } from "./+types/v1.models";

export async function loader({ request }: Route.LoaderArgs) {
  try {
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new ApiError("method_not_allowed", "Use GET.", { Allow: MODELS_METHODS });
    }
    return listModels(await getRuntime(), request);
  } catch (error) {
    return openAiErrorResponse(error);
  }
}

export async function action() {
  return openAiErrorResponse(
    new ApiError("method_not_allowed", "Use GET.", { Allow: MODELS_METHODS }),
  );
}
