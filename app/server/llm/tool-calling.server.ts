// The provider interface for tool calls (issue 11, item 2): one turn of a chat in which the
// model may answer in text or ask for tools to be run, in the `tools` format that Groq and
// every OpenAI-compatible server share. The bot's actions (app/server/actions/) drive it in a
// loop; it is not on the ask path yet. Like the answer prompt (prompt.server.ts), everything
// sent to a hosted model is PII-masked: the model proposes an action, and contact details
// reach it never — the widget's form collects them, with consent. Touches only the
// configured endpoint; the API key never appears in an error.
import Groq from "groq-sdk";
import type { ChatCompletionCreateParamsNonStreaming as GroqCreateParams } from "groq-sdk/resources/chat/completions";
import OpenAI from "openai";
import { estimateTokens } from "./extractive.server.ts";
import {
  createOpenAIClient,
  providerFailure,
  type SdkErrorClasses,
} from "./openai-compatible.server.ts";
import { createGroqClient } from "./groq.server.ts";
import { maskPii } from "../pii/mask.server.ts";
import type { TokenUsage } from "./provider.server.ts";

/** A tool the model may call: its name, what it does, and its arguments as JSON Schema. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** A call the model asked for; `arguments` is the JSON text it wrote, not yet validated. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type ToolConversationMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: readonly ToolCall[] }
  /** The result (or the refusal) of one call, for the model to read. */
  | { role: "tool"; toolCallId: string; content: string };

export interface ToolTurnRequest {
  messages: readonly ToolConversationMessage[];
  tools: readonly ToolSpec[];
  /** `none` makes the model answer in text (the last step of a loop). Default `auto`. */
  toolChoice?: "auto" | "none" | "required";
  /** The tenant's model override; the provider's model when absent. */
  model?: string;
  signal?: AbortSignal;
}

export type ToolTurnFinish = "stop" | "tool_calls" | "length" | "other";

export interface ToolTurn {
  /** The model's text (empty when it only asked for tools). */
  text: string;
  toolCalls: ToolCall[];
  finishReason: ToolTurnFinish;
  usage: TokenUsage;
}

/** What every tool-capable provider implements; failures throw AnswerProviderError. */
export interface ToolCallingProvider {
  readonly name: string;
  readonly model: string;
  turn(request: ToolTurnRequest): Promise<ToolTurn>;
}

// ---- the wire format shared by Groq and OpenAI-compatible servers --------------------------

type WireMessage =
  | { role: "system" | "user"; content: string }
  | {
      role: "assistant";
      content: string;
      tool_calls?: Array<{
        id: string;
        type: "function";
        function: { name: string; arguments: string };
      }>;
    }
  | { role: "tool"; tool_call_id: string; content: string };

interface WireRequest {
  model: string;
  messages: WireMessage[];
  tools?: Array<{
    type: "function";
    function: { name: string; description: string; parameters: Record<string, unknown> };
  }>;
  tool_choice?: "auto" | "none" | "required";
  max_tokens: number;
  temperature: number;
}

/** What we read from a completion; OpenAI's and Groq's responses both fit. */
export interface ChatCompletionLike {
  choices?: ReadonlyArray<{
    finish_reason?: string | null;
    message?: {
      content?: string | null;
      tool_calls?: ReadonlyArray<{
        id?: string;
        type?: string;
        function?: { name?: string; arguments?: string } | null;
      }> | null;
    } | null;
  }> | null;
  usage?: { prompt_tokens?: number | null; completion_tokens?: number | null } | null;
}

/** The messages as the server gets them: every text PII-masked. */
export function toWireMessages(messages: readonly ToolConversationMessage[]): WireMessage[] {
  return messages.map((message) => {
    switch (message.role) {
      case "system":
      case "user":
        return { role: message.role, content: maskPii(message.content) };
      case "assistant":
        return message.toolCalls && message.toolCalls.length > 0
          ? {
              role: "assistant",
              content: maskPii(message.content),
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: "function" as const,
                function: { name: call.name, arguments: maskPii(call.arguments) },
              })),
            }
          : { role: "assistant", content: maskPii(message.content) };
      case "tool":
        return {
          role: "tool",
          tool_call_id: message.toolCallId,
          content: maskPii(message.content),
        };
    }
  });
}

function finishOf(reason: string | null | undefined): ToolTurnFinish {
  return reason === "stop" || reason === "tool_calls" || reason === "length" ? reason : "other";
}

/** The turn a completion holds; calls of other kinds than `function` are dropped. */
export function readCompletion(completion: ChatCompletionLike, wire: WireRequest): ToolTurn {
  const choice = completion.choices?.[0];
  const text = typeof choice?.message?.content === "string" ? choice.message.content : "";
  const toolCalls: ToolCall[] = [];
  for (const [i, call] of (choice?.message?.tool_calls ?? []).entries()) {
    if ((call.type ?? "function") !== "function" || typeof call.function?.name !== "string") {
      continue;
    }
    toolCalls.push({
      // A server that sends no id still needs one to pair the result with the call.
      id: call.id || `call_${i}`,
      name: call.function.name,
      arguments: typeof call.function.arguments === "string" ? call.function.arguments : "",
    });
  }
  const usage = completion.usage;
  const reported =
    typeof usage?.prompt_tokens === "number" && typeof usage.completion_tokens === "number";
  return {
    text,
    toolCalls,
    finishReason: finishOf(choice?.finish_reason),
    usage: reported
      ? {
          promptTokens: usage?.prompt_tokens as number,
          completionTokens: usage?.completion_tokens as number,
          estimated: false,
        }
      : {
          promptTokens: estimateTokens(JSON.stringify(wire.messages) + JSON.stringify(wire.tools)),
          completionTokens: estimateTokens(
            text + toolCalls.map((c) => c.name + c.arguments).join(""),
          ),
          estimated: true,
        },
  };
}

interface ChatCompletionsToolCallerOptions {
  provider: string;
  model: string;
  maxTokens: number;
  timeoutMs: number;
  errors: SdkErrorClasses;
  create(request: WireRequest, signal: AbortSignal): Promise<ChatCompletionLike>;
}

function chatCompletionsToolCaller(options: ChatCompletionsToolCallerOptions): ToolCallingProvider {
  const { provider, timeoutMs, errors } = options;
  return {
    name: provider,
    model: options.model,
    async turn(request) {
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = request.signal ? AbortSignal.any([request.signal, deadline]) : deadline;
      const wire: WireRequest = {
        model: request.model ?? options.model,
        messages: toWireMessages(request.messages),
        max_tokens: options.maxTokens,
        // Low temperature: arguments should come from what the visitor said, not invention.
        temperature: 0.2,
      };
      if (request.tools.length > 0) {
        wire.tools = request.tools.map((tool) => ({
          type: "function",
          function: { name: tool.name, description: tool.description, parameters: tool.parameters },
        }));
        wire.tool_choice = request.toolChoice ?? "auto";
      }
      try {
        return readCompletion(await options.create(wire, signal), wire);
      } catch (error) {
        throw providerFailure(error, {
          provider,
          timeoutMs,
          errors,
          callerSignal: request.signal,
          deadline,
        });
      }
    },
  };
}

export interface ToolCallerOptions {
  /** OpenAI-compatible: the API root (`…/v1`); Groq: its API root (default api.groq.com). */
  baseUrl?: string;
  apiKey?: string;
  model: string;
  maxTokens: number;
  timeoutMs: number;
}

/** Tool calls through any OpenAI-compatible chat-completions server (`openai` client). */
export function createOpenAICompatibleToolCaller(
  options: ToolCallerOptions & { baseUrl: string },
): ToolCallingProvider {
  const client = createOpenAIClient(options);
  return chatCompletionsToolCaller({
    provider: "openai",
    model: options.model,
    maxTokens: options.maxTokens,
    timeoutMs: options.timeoutMs,
    errors: {
      APIError: OpenAI.APIError,
      APIConnectionTimeoutError: OpenAI.APIConnectionTimeoutError,
    },
    create: (wire, signal) =>
      client.chat.completions.create(
        wire as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
        { signal },
      ),
  });
}

/** Tool calls through Groq (`groq-sdk`). */
export function createGroqToolCaller(
  options: ToolCallerOptions & { apiKey: string },
): ToolCallingProvider {
  const client = createGroqClient(options);
  return chatCompletionsToolCaller({
    provider: "groq",
    model: options.model,
    maxTokens: options.maxTokens,
    timeoutMs: options.timeoutMs,
    errors: { APIError: Groq.APIError, APIConnectionTimeoutError: Groq.APIConnectionTimeoutError },
    create: (wire, signal) => client.chat.completions.create(wire as GroqCreateParams, { signal }),
  });
}
