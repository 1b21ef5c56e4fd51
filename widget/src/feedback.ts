// The widget's client for `POST /api/feedback`: a visitor's thumbs up or down on one answer.
export type Rating = "up" | "down";

export interface FeedbackRequest {
  origin: string;
  tenantId: string;
  key: string;
  sessionToken: string;
  messageId: number;
  rating: Rating;
}

/** True when the server stored the rating (204); false on any refusal or network failure. */
export async function sendFeedback(
  request: FeedbackRequest,
  fetchImpl: typeof fetch = fetch,
): Promise<boolean> {
  try {
    const response = await fetchImpl(`${request.origin}/api/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        tenant_id: request.tenantId,
        key: request.key,
        session_token: request.sessionToken,
        message_id: request.messageId,
        rating: request.rating,
      }),
      credentials: "omit",
    });
    return response.ok;
  } catch {
    return false;
  }
}
